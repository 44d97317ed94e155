#!/bin/sh
# Whether a target's link command names a library (by its file name), as CMake's generator wrote
# it: build.ninja under Ninja, CMakeFiles/<target>.dir/link.txt under Makefiles. The command
# holds the target's libraries and all they link, PUBLIC or PRIVATE, so a library that comes in
# by any path shows here even when the linker then takes none of its objects (objects_of_library.sh
# checks those).
#
# Usage: link_line_names.sh BUILD_DIR TARGET_DIR TARGET LIBRARY_FILE
set -eu
build_dir=$1
target_dir=$2
target=$3
library=$4

link_txt="$build_dir/$target_dir/CMakeFiles/$target.dir/link.txt"
if [ -f "$link_txt" ]; then
  command=$(cat "$link_txt")
elif [ -f "$build_dir/build.ninja" ]; then
  command=$(awk -v head="build $target_dir/$target:" '
    index($0, head) == 1 { inside = 1; next }
    inside && /^[^ ]/ { exit }
    inside && /LINK_LIBRARIES =/ { print }
  ' "$build_dir/build.ninja")
else
  echo "neither $link_txt nor $build_dir/build.ninja: cannot read the link command" >&2
  exit 1
fi
if [ -z "$command" ]; then
  echo "no link command found for $target_dir/$target" >&2
  exit 1
fi
case "$command" in
  *"/$library"* | *" $library"*)
    echo "$target links $library:" >&2
    echo "$command" >&2
    exit 1
    ;;
esac
echo "$target's link command does not name $library"
