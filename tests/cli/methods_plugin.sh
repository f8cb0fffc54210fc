#!/bin/sh
# `dqbench methods --plugin lib.so` lists the plugin's methods with their parameters (types, defaults,
# allowed values), in both formats, beside the built-in ones; without --plugin they are absent, and a
# library that does not exist is an error naming it.
set -u
dqbench="$1"
lib=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")  # the listing names it absolute
out=$("$dqbench" methods --plugin "$lib") || { echo "FAIL: methods --plugin exited $?"; exit 1; }
for want in "test_stride: Test plugin: every stride-th sample of each class. (plugin: $lib)" \
            "stride           int    = 2            take every stride-th sample of a class {[1, 100]}" \
            "order            string = first        which end of the class to start from {first|last}" \
            "random:"; do
  printf '%s\n' "$out" | grep -qF -- "$want" || { echo "FAIL: missing line: $want"; printf '%s\n' "$out"; exit 1; }
done
md=$("$dqbench" methods --format md --plugin "$lib")
for want in '### `test_stride`' '| `stride` | int | `2` | [1, 100] | take every stride-th sample of a class |' \
            '| `order` | string | `first` | `first`, `last` | which end of the class to start from |'; do
  printf '%s\n' "$md" | grep -qF -- "$want" || { echo "FAIL: missing Markdown line: $want"; printf '%s\n' "$md"; exit 1; }
done
"$dqbench" methods | grep -q test_stride && { echo "FAIL: a plugin's method listed without --plugin"; exit 1; }
err=$("$dqbench" methods --plugin /nonexistent/libnone.so 2>&1) && { echo "FAIL: a missing library was accepted"; exit 1; }
printf '%s\n' "$err" | grep -q "/nonexistent/libnone.so" || { echo "FAIL: the error does not name the library: $err"; exit 1; }
echo "ok"
