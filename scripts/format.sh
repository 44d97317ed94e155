#!/usr/bin/env bash
# Formats every C++ file with the project's .clang-format.
set -euo pipefail
cd "$(dirname "$0")/.."
git ls-files --cached --others --exclude-standard '*.cc' '*.h' | xargs clang-format -i
