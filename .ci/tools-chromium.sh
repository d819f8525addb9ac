#!/usr/bin/env bash
# Installs Debian's chromium, which the console's browser tests drive
# headless through chromedp (engine/console). CI runs as root; elsewhere the
# apt-get needs sudo. A no-op when /usr/bin/chromium is there. A font is
# installed too: without recommends, a bare image has none and screenshots
# show empty boxes.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
	exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
	sudo=sudo
fi
$sudo apt-get update
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-dejavu-core
