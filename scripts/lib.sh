# Shell functions shared by scripts/test and scripts/demo: the Debian 12
# packages the project needs, installed when missing, and a meson build.

packages=(
	gcc meson ninja-build pkg-config
	libuv1-dev libcurl4-openssl-dev libssl-dev libjansson-dev libxml2-dev
	# the daemon reads request lines with yajl's event parser (issue 16)
	libyajl-dev
	libsystemd-dev libinih-dev libcmocka-dev libmicrohttpd-dev
	python3 python3-pytest python3-pytest-xdist python3-botocore
	scdoc systemd bash-completion util-linux
	# test_loggly.py: openssl makes the HTTPS double's certificate
	openssl
	# test_metrics.py: a real Prometheus server and promtool
	prometheus
)

# What scripts/package needs besides the build dependencies above: the
# Debian package tools and lintian.
package_packages=(debhelper dpkg-dev lintian)

# The compiler and runtime of the libFuzzer build (scripts/fuzz).
fuzz_packages=(clang-14 libclang-rt-14-dev)

# Installs the packages that are missing (as root, with apt-get).
install_missing() {
	install_packages "${packages[@]}"
}

# Installs those of the given packages that are missing.
install_packages() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null |
			grep -q '^ii' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing Debian packages: ${missing[*]}" >&2
		echo "run as root, or: apt-get install ${missing[*]}" >&2
		return 1
	fi
	echo "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null &&
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Configures and builds one tree; extra arguments go to meson setup.
build() {
	local dir=$1; shift
	if [ -f "$dir/build.ninja" ]; then
		meson setup --reconfigure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@" >/dev/null
	fi && ninja -C "$dir" >/dev/null
}
