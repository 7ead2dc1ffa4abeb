#!/usr/bin/env bash
# Format every C/C++ file tracked by git with clang-format (.clang-format at
# the root; apps/ and bench/ have their own, 4-space indent).
# Usage: scripts/format.sh           rewrite the files in place
#        scripts/format.sh --check   change nothing; exit 1 and list what
#                                    would change if anything would
# The style files are tuned for clang-format 14 (Debian 12's); other
# versions may format some constructs differently.
set -euo pipefail
cd "$(dirname "$0")/.."
check=0
case ${1:-} in
  --check) check=1 ;;
  "") ;;
  *) echo "usage: scripts/format.sh [--check]" >&2; exit 2 ;;
esac
scripts/deps.sh clang-format
version=$(clang-format --version | sed -n 's/.*version \([0-9]*\).*/\1/p')
[ "$version" = 14 ] || echo "format: clang-format $version, the style was tuned on 14" >&2

mapfile -d '' files < <(git ls-files -z -- '*.c' '*.cc' '*.cpp' '*.cxx' '*.h' '*.hh' '*.hpp' '*.hxx')
if [ "$check" -eq 0 ]; then
  printf '%s\0' "${files[@]}" | xargs -0 -n 16 clang-format -i
  exit 0
fi
bad=()
for f in "${files[@]}"; do
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -ne 0 ]; then
  printf 'format: would change %s\n' "${bad[@]}" >&2
  echo "format: ${#bad[@]} of ${#files[@]} files not formatted (scripts/format.sh fixes them)" >&2
  exit 1
fi
echo "format: ${#files[@]} files formatted" >&2
