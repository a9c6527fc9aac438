#!/bin/sh
# Installs the sample configuration $1 as DIR/ec2-manager.conf ($2 = DIR),
# under $DESTDIR, unless a file is already there: then the sample goes
# beside it as ec2-manager.conf.dist and the operator's file stays.
set -eu
src=$1
dir=${DESTDIR:-}$2
install -d -m 0755 "$dir"
if [ -e "$dir/ec2-manager.conf" ]; then
	install -m 0644 "$src" "$dir/ec2-manager.conf.dist"
	echo "Kept $dir/ec2-manager.conf; the sample is ec2-manager.conf.dist"
else
	install -m 0644 "$src" "$dir/ec2-manager.conf"
	echo "Installing $src to $dir"
fi
