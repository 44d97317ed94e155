#!/usr/bin/env bash
# Regenerates the golden images of tests/imaging/golden_test.cc: the input photographs, the
# reference output of every step case, and the eight EXIF orientation fixtures. Run it by hand
# when a case is added; the test itself only reads the committed files.
#
# The references are made by ImageMagick 6 (Debian's /usr/bin/convert, package imagemagick) and
# the EXIF tags by exiftool (package libimage-exiftool-perl), never by pixq or OpenCV, so a test
# that compares pixq's output with them checks pixq against an independent implementation of the
# same semantics (pkg/imaging/pipeline.h and DESIGN.md):
# - resize reduces by averaging over each output pixel's area (ImageMagick's -scale, which weighs
#   every source pixel by its overlap) and enlarges with a bicubic filter (Catmull-Rom): the
#   families the contract names (INTER_AREA, INTER_CUBIC). Cover crops around the centre; the
#   no-upscale variants are written out as what the contract says they become.
# - crop is ImageMagick's -crop, with -gravity for the placed boxes; rotate is clockwise.
# - grayscale is Rec. 601 luma, blur a Gaussian of the given sigma, sharpen an unsharp mask
#   (out = in + amount * (in - gaussian(in, sigma))).
# Every case and its pixq steps are listed again in golden_test.cc, under the same name.
#
# Input: /usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg (Debian package
# lomiri-wallpapers-20.04), cut to 3:2 and reduced to 360x240. Output, in this folder:
#   source.png                the upright photograph, lossless: the truth for the EXIF fixtures
#   photo.jpg                 source.png as a JPEG (quality 90, 4:2:0): the input of the step cases
#   references/<case>.png     what each step case must produce from photo.jpg
#   exif/orientation-<n>.jpg  source.png stored turned by the inverse of EXIF orientation n, with
#                             the tag saying n: all eight display as source.png
#   exif/upright-<case>.png   source.png resized as the EXIF cases' first steps ask
#   edges/photo.jpg           the same cut at 394x263 (sides 2 and 7 past a multiple of 8, so the
#                             last block column and row are partly padding), quality 90, 4:2:0
#   edges/orientation-6.jpg   the same stored turned 90° anticlockwise, EXIF orientation 6
#   edges/<case>.png          ImageMagick's full decode of photo.jpg resized as <case> asks
#   edges/orientation-6-<case>.png   the same of orientation-6.jpg, turned upright first
#   VERSIONS                  the tools that made them
# The PNGs carry no timestamps, so running the script again gives the same bytes.
set -euo pipefail
cd "$(dirname "$0")"

CONVERT=/usr/bin/convert  # not the first convert on PATH, which may be a stand-in
EXIFTOOL=/usr/bin/exiftool
PHOTO=/usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg
for tool in "$CONVERT" "$EXIFTOOL"; do
  [[ -x "$tool" ]] || { echo "$tool is missing: apt-get install imagemagick libimage-exiftool-perl" >&2; exit 1; }
done
[[ -r "$PHOTO" ]] || { echo "$PHOTO is missing: apt-get install lomiri-wallpapers-20.04" >&2; exit 1; }

# Plain 8-bit PNG, no metadata, no time chunks. The colour type is fixed so that a reference
# whose pixels happen to be few or grey is still read back as BGR.
PNG_RGB=(-strip -depth 8 -define "png:exclude-chunks=date,time" -define png:color-type=2)
PNG_GRAY=(-strip -depth 8 -define "png:exclude-chunks=date,time" -define png:color-type=0)
# The enlarging filter (see above); reductions use -scale.
ENLARGE=(-filter Catrom)

rm -rf references exif edges
mkdir -p references exif edges

# The photograph: a 3:2 cut with textured bark, a bird and smooth bokeh, so that resampling,
# blur and sharpening have real work and a wrong orientation or offset shows.
"$CONVERT" "$PHOTO" -crop 4500x3000+580+200 +repage -resize 360x240 "${PNG_RGB[@]}" source.png
"$CONVERT" source.png -strip -sampling-factor 2x2 -quality 90 photo.jpg

# One reference per step case: ref NAME [convert operators...], applied to photo.jpg.
ref() {
  local name=$1
  shift
  "$CONVERT" photo.jpg "$@" "${PNG_RGB[@]}" "references/$name.png"
}

ref none

# resize (photo.jpg is 360x240)
ref resize-inside-180x180 -scale 180x180
ref resize-inside-width-250 -scale 250x
ref resize-inside-height-60 -scale x60
# (resize inside 400x400 without upscale fits already, so leaves the photograph unchanged: its
# reference is none.png.)
ref resize-inside-400x400-upscale "${ENLARGE[@]}" -resize 400x400
ref resize-cover-160x160 -scale '160x160^' -gravity center -extent 160x160
ref resize-cover-180x100 -scale '180x100^' -gravity center -extent 180x100
# Would need enlarging and upscale is off: a box of at most the image's size, from the centre.
ref resize-cover-300x300-no-upscale -gravity center -crop 300x240+0+0 +repage
ref resize-cover-400x300-upscale "${ENLARGE[@]}" -resize '400x300^' -gravity center -extent 400x300
ref resize-fill-200x200 -scale '200x200!'
# Each side of the box clamped to the image's when upscale is off: 400x120 becomes 360x120.
ref resize-fill-400x120-no-upscale -scale '360x120!'
ref resize-fill-400x300-upscale "${ENLARGE[@]}" -resize '400x300!'
# A strong enlargement, where the filter shows: the middle 120x80, three times as large.
ref resize-upscale-3x-after-crop -gravity center -crop 120x80+0+0 \
  +repage "${ENLARGE[@]}" -resize 360x360

# crop
ref crop-box-40-30-200x150 -crop 200x150+40+30 +repage
ref crop-box-300-200-100x100-clipped -crop 100x100+300+200 +repage
for gravity in Center North South East West NorthEast NorthWest SouthEast SouthWest; do
  ref "crop-gravity-${gravity,,}-160x120" -gravity "$gravity" -crop 160x120+0+0 +repage
done
ref crop-gravity-south-500x100-clipped -gravity South -crop 500x100+0+0 +repage

# rotate (clockwise), mirror (left-right), flip (top-bottom)
ref rotate-90 -rotate 90
ref rotate-180 -rotate 180
ref rotate-270 -rotate 270
ref mirror -flop
ref flip -flip

# colour and filters
"$CONVERT" photo.jpg -grayscale Rec601Luma "${PNG_GRAY[@]}" references/grayscale.png
ref blur-sigma-0.8 -gaussian-blur 0x0.8
ref blur-sigma-3 -gaussian-blur 0x3
ref sharpen-sigma-1-amount-1 -unsharp 0x1+1+0
ref sharpen-sigma-2-amount-0.5 -unsharp 0x2+0.5+0

# Several steps in a row: crop east 240x240, rotate 90, resize inside 120, grayscale.
"$CONVERT" photo.jpg -gravity East -crop 240x240+0+0 +repage -rotate 90 -scale 120x120 \
  -grayscale Rec601Luma "${PNG_GRAY[@]}" references/chain.png

# EXIF orientation fixtures. Orientation n says how the stored pixels are turned for display
# (1 as stored, 2 mirrored, 3 turned 180°, 4 flipped, 5 transposed, 6 turned 90° clockwise,
# 7 transversed, 8 turned 90° anticlockwise), so each is stored turned by the inverse.
inverse=([1]="" [2]="-flop" [3]="-rotate 180" [4]="-flip" [5]="-transpose" [6]="-rotate 270"
  [7]="-transverse" [8]="-rotate 90")
for n in 1 2 3 4 5 6 7 8; do
  # shellcheck disable=SC2086  # the operator and its argument are two words
  "$CONVERT" source.png ${inverse[$n]} -strip -sampling-factor 2x2 -quality 90 \
    "exif/orientation-$n.jpg"
  "$EXIFTOOL" -q -overwrite_original -n "-Orientation=$n" "exif/orientation-$n.jpg"
  # Check that exiftool reads the tag back, and that ImageMagick, turning the fixture by its own
  # reading of the tag, gets the upright photograph back.
  [[ "$("$EXIFTOOL" -s3 -n -Orientation "exif/orientation-$n.jpg")" == "$n" ]]
  psnr=$("$CONVERT" "exif/orientation-$n.jpg" -auto-orient source.png -metric PSNR \
    -compare -format '%[distortion]' info:)
  echo "orientation $n: upright after -auto-orient at $psnr dB"
  awk -v p="$psnr" 'BEGIN { exit !(p >= 30) }'
done
# The first steps of the EXIF cases, which take the shrink-on-load path.
"$CONVERT" source.png -scale 180x "${PNG_RGB[@]}" exif/upright-inside-width-180.png
"$CONVERT" source.png -scale 90x "${PNG_RGB[@]}" exif/upright-inside-width-90.png
"$CONVERT" source.png -scale 45x "${PNG_RGB[@]}" exif/upright-inside-width-45.png
"$CONVERT" source.png -scale '60x60^' -gravity center -extent 60x60 \
  "${PNG_RGB[@]}" exif/upright-cover-60x60.png

# Shrink-on-load's partial blocks (issue 18): the last row and column of a photograph whose sides
# are no multiple of 8, resized by each of the three DCT scales from a full decode.
"$CONVERT" "$PHOTO" -crop 4500x3000+580+200 +repage -resize '394x263!' "${PNG_RGB[@]}" \
  edges/source.png
"$CONVERT" edges/source.png -strip -sampling-factor 2x2 -quality 90 edges/photo.jpg
"$CONVERT" edges/source.png -rotate 270 -strip -sampling-factor 2x2 -quality 90 \
  edges/orientation-6.jpg
"$EXIFTOOL" -q -overwrite_original -n "-Orientation=6" edges/orientation-6.jpg
rm edges/source.png
edge() {
  local name=$1
  shift
  "$CONVERT" edges/photo.jpg "$@" "${PNG_RGB[@]}" "edges/$name.png"
  "$CONVERT" edges/orientation-6.jpg -auto-orient "$@" "${PNG_RGB[@]}" \
    "edges/orientation-6-$name.png"
}
edge inside-width-48 -scale 48x
edge inside-width-96 -scale 96x
edge inside-width-160 -scale 160x
edge cover-60x60 -scale '60x60^' -gravity center -extent 60x60

{
  "$CONVERT" -version | head -1
  echo "exiftool $("$EXIFTOOL" -ver)"
} >VERSIONS
echo "made $(find references exif edges -type f | wc -l) files, $(du -sh . | cut -f1) in all"
