#!/bin/sh
# End to end through `dqbench run`: the Python example (examples/python_method/) beside random, a
# sweep over its parameter, and commands that fail, run out of memory or out of time
# (tests/cli/external_method.py does the checks). Needs Debian's python3-numpy.
set -u
for py in /usr/bin/python3 python3; do
  if "$py" -c "import numpy" 2>/dev/null; then
    exec "$py" "$2/tests/cli/external_method.py" "$1" "$2" "$py"
  fi
done
echo "FAIL: no python3 with numpy (scripts/install-deps.sh installs python3-numpy)"
exit 1
