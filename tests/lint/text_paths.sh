#!/bin/sh
# Text that may reach a reply, an event, status or the log takes the one
# UTF-8-safe path of common/utf8.h (SPEC §3).  This check keeps it so:
#  - a fixed buffer is formatted with utf8_snprintf(), never plain
#    snprintf(), unless the line or the one before says "/* not text */"
#    (URLs, headers, numbers: bytes that never reach a person);
#  - a message is allocated with utf8_vasprintf(), not vasprintf();
#  - daemon code makes JSON strings with json_text(), which never fails,
#    not json_string(), which returns NULL for invalid UTF-8.
# Run from the source root (meson's workdir).
set -u
status=0
report() {
	if [ -n "$2" ]; then
		echo "$1:"
		echo "$2"
		status=1
	fi
}
files=$(ls daemon/*.c common/*.c | grep -v -e '^common/utf8\.c$' \
	-e '^common/xalloc\.c$')
report "plain snprintf into a buffer (use utf8_snprintf or mark /* not text */)" \
	"$(for f in $files; do awk -v f="$f" '
		/(^|[^_[:alnum:]])v?snprintf\(/ && !/not text/ && prev !~ /not text/ {
			print f ":" FNR ": " $0 }
		{ prev = $0 }' "$f"; done)"
report "vasprintf (use utf8_vasprintf)" \
	"$(grep -nE '(^|[^_[:alnum:]])vasprintf\(' $files)"
report "json_string() in the daemon (use json_text)" \
	"$(grep -nE '(^|[^_[:alnum:]])json_stringn?\(' daemon/*.c)"
[ $status -eq 0 ] && echo "text paths: ok"
exit $status
