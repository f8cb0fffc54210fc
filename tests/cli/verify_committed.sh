#!/bin/sh
# `dqbench verify` on the committed databases: those listed in results/verified.txt must pass; every
# other results/*.db must at least be read and judged (exit 0 or 1; 2 would be a bad database).
set -u
dqbench="$1"
repo="$2"
cd "$repo"
status=0
listed=$(grep -v '^#' results/verified.txt | grep -v '^ *$' || true)
for db in $listed; do
  [ -f "$db" ] || { echo "FAIL: results/verified.txt lists $db, which does not exist"; status=1; continue; }
  if ! "$dqbench" verify "$db" --sample 0 >/tmp/verify.$$ 2>&1; then
    cat /tmp/verify.$$; echo "FAIL: $db is listed in results/verified.txt but does not verify"; status=1
  fi
done
for db in results/*.db; do
  case " $(echo $listed) " in *" $db "*) continue ;; esac
  "$dqbench" verify "$db" --sample 0 >/tmp/verify.$$ 2>&1
  rc=$?
  [ $rc -le 1 ] || { cat /tmp/verify.$$; echo "FAIL: verify could not read $db (exit $rc)"; status=1; }
  echo "not yet listed: $db ($(tail -1 /tmp/verify.$$))"
done
rm -f /tmp/verify.$$
[ $status -eq 0 ] && echo "ok: every database in results/verified.txt verifies"
exit $status
