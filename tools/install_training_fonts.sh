#!/usr/bin/env bash
# Install the Debian fonts the synthetic handwriting draws from (training only; the bot and
# its tests need just the first four). Every face that draws Han characters is used, each
# design family (package directory) equally often; the one hashing highest is held out for
# the synthetic test set (recognition/training/synth.py: split_fonts).
#
# Usage: tools/install_training_fonts.sh   (as root, or with sudo available)
set -euo pipefail

PACKAGES=(
    fontconfig
    # Printed designs: Kai, Ming/Song, Hei (Arphic Public License; Apache-2.0/GPLv3 with
    # font exception; OFL-1.1).
    fonts-arphic-ukai fonts-arphic-uming fonts-wqy-zenhei fonts-wqy-microhei
    fonts-arphic-gkai00mp fonts-arphic-gbsn00lp fonts-noto-cjk
    # Handwriting designs: LXGW WenKai (OFL-1.1, full simplified Chinese), and Japanese pen
    # and pencil hands that cover the characters Chinese and Japanese share: Klee One
    # (OFL-1.1), Kiloji (BSD-3-Clause), Seto (OFL-1.1), YOzFont (OFL-1.1).
    fonts-lxgw-wenkai fonts-klee fonts-kiloji fonts-seto fonts-yozvox-yozfont
)

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
$SUDO apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" \
    || { $SUDO apt-get update -q && $SUDO apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"; }
fc-list ':charset=4e00 56db' family | sort -u
