#pragma once

// Less entropy decoding for a progressive JPEG decoded at a reduced scale. A progressive file
// sends its DCT coefficients in several scans (the DC of every block first, then bands of AC
// coefficients, then their remaining bits), and libjpeg entropy-decodes every scan whatever the
// output scale: for a 16 MP progressive photograph at 1/4 scale that is nearly all of the decode
// time, so DCT scaling alone saves little there. But a scaled decode cannot show all of it: at
// 1/4 and 1/8, libjpeg's 2x2 and 1x1 inverse DCTs (the chroma of a subsampled file may use the
// 2x2 at 1/8) sum a few coefficients of each block, and the last bit of the AC coefficients
// (sent last, by successive-approximation refinement scans that carry about 60% of such a file's
// bytes) moves the result by a fraction of a level. Those trailing scans are dropped. On the
// benchmark's progressive photograph (4096x4096, 6.7 MB) the 1/4-scale decode then takes 160
// instead of 275 ms, and the 800 px thumbnail is within 57 dB PSNR of the one from every scan;
// on a synthetic image with per-pixel noise (the worst case) within 42-44 dB at 1/4
// (tests/imaging/jpeg_scans_test.cc holds both scales to 40 dB, as shrink-on-load is held to
// 40 dB against a full decode).
//
// Anything else (a baseline or arithmetic-coded file, a 1/2 or full-scale decode, a file whose
// last scans are not such refinements, a stream this reader does not follow to its end) is left
// alone: nullopt, and the whole stream is decoded.

#include <optional>
#include <string>
#include <string_view>

namespace pixq::imaging {

// `jpeg` without the scans a decode at 1/`scale` (libjpeg's DCT scaling: 1, 2, 4 or 8) cannot
// show, or nullopt when there are none to drop. Every other byte is kept in order (the headers,
// EXIF, the tables, the scans that stay, the end marker). Never throws; bounds-checked on every
// read.
[[nodiscard]] std::optional<std::string> DropScansBeyondScale(std::string_view jpeg, int scale);

}  // namespace pixq::imaging
