#!/usr/bin/env bash
# make demo: a real exchange on loopback between the demo topology's agencies.
#
# Kementerian PANRB sends a circular (surat edaran) with a real published paper attached to
# four city governments; Pemkot Makassar is offline when it is sent and receives it when its
# node starts. Every inbox then shows the letter with a valid signature, and the sender holds
# a signed receipt from every city. Then Pemkot Semarang disposes the circular from the mayor's
# office to the regional secretary, who disposes it on to two offices, one in the provincial
# government; they report read / in progress / done, and the demo prints the letter's trace.
# Everything started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${AGENCYBUS_BIN:-.build/debug}
CLI=$BIN/bus-cli
BROKER=$BIN/bus-broker
# The team's shared inputs next to the repository, else the copy in data/ (identical).
PAPER=../shared/data/sawala-2024-e-government-e-office.txt
[ -f "$PAPER" ] || PAPER=data/sawala-2024-e-government-e-office.txt
[ -f "$PAPER" ] || { echo "demo: the paper is missing from ../shared/data and data/" >&2; exit 66; }

WORK=$(mktemp -d -t agencybus-demo.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
  say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
  say() { printf '\n== %s\n' "$*"; }
fi
# wait_for FILE PATTERN COUNT: wait (max 20 s) until FILE has COUNT lines matching PATTERN.
wait_for() {
  for _ in $(seq 1 200); do
    [ "$(grep -c -- "$2" "$1" 2>/dev/null || true)" -ge "$3" ] && return 0
    sleep 0.1
  done
  echo "demo: timed out waiting for '$2' in $1" >&2; cat "$1" >&2; exit 1
}

say "Keys and topology (generated now; secret keys never leave $WORK)"
TOPO=$WORK/topology.json
cp topology/demo.json "$TOPO"
BROKER_KEY=$($BROKER keygen --data "$WORK/broker")
$BROKER set-topology --topology "$TOPO" --broker nasional --public-key "$BROKER_KEY"
echo "broker nasional            $BROKER_KEY"
AGENCIES=(kemenpanrb pemkot-semarang pemkot-bandung pemkot-surabaya pemkot-makassar pemprov-jateng bappenas)
for a in "${AGENCIES[@]}"; do
  key=$($CLI init --node "$WORK/$a" --agency "$a" --topology "$TOPO")
  $BROKER set-topology --topology "$TOPO" --agency "$a" --public-key "$key"
  printf '%-26s %s\n' "$a" "$key"
done

say "Broker 'nasional' on a free loopback port"
$BROKER --topology "$TOPO" --broker nasional --data "$WORK/broker" \
  --bind 'tcp://127.0.0.1:*' --ready-file "$WORK/broker.ready" 2>"$WORK/broker.log" &
PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$WORK/broker.ready" ] && break; sleep 0.1; done
[ -s "$WORK/broker.ready" ] || { echo "demo: broker did not start" >&2; cat "$WORK/broker.log" >&2; exit 1; }
ENDPOINT=$(cat "$WORK/broker.ready")
$BROKER set-topology --topology "$TOPO" --broker nasional --endpoint "$ENDPOINT"
$BROKER --check --topology "$TOPO"
echo "listening on $ENDPOINT"

say "Semarang, Bandung and Surabaya are online; Makassar is offline"
for a in pemkot-semarang pemkot-bandung pemkot-surabaya pemprov-jateng; do
  $CLI subscribe --node "$WORK/$a" >"$WORK/$a.out" 2>"$WORK/$a.err" &
  PIDS+=($!)
done

say "Kementerian PANRB sends a circular with the paper attached"
BODY="Dalam rangka percepatan penerapan Sistem Pemerintahan Berbasis Elektronik (SPBE), dengan hormat kami sampaikan hasil kajian tentang optimalisasi e-government dan e-office birokrasi menuju smart city (terlampir). Mohon Saudara mempelajari kajian tersebut dan menyampaikan rencana tindak lanjut penerapan naskah dinas elektronik di lingkungan pemerintah kota masing-masing paling lambat 30 hari sejak surat ini diterima. Atas perhatian dan kerja sama Saudara, kami ucapkan terima kasih."
ID=$($CLI send --node "$WORK/kemenpanrb" --from-unit deputi-kelembagaan \
  --to pemkot-semarang,pemkot-bandung,pemkot-surabaya,pemkot-makassar --cc anri \
  --number "B/1207/M.KT.01/2026" --urgency segera \
  --subject "Surat Edaran: Optimalisasi E-Government dan E-Office Birokrasi Menuju Smart City" \
  --body "$BODY" --attach "$PAPER")
echo "accepted: letter $ID"

for a in pemkot-semarang pemkot-bandung pemkot-surabaya; do wait_for "$WORK/$a.out" "$ID" 1; done
echo "delivered live to Semarang, Bandung and Surabaya"

say "Makassar comes online and receives what waited for it"
$CLI subscribe --node "$WORK/pemkot-makassar" >"$WORK/pemkot-makassar.out" 2>"$WORK/pemkot-makassar.err" &
PIDS+=($!)
wait_for "$WORK/pemkot-makassar.out" "$ID" 1
cat "$WORK/pemkot-makassar.out"

say "Every recipient's inbox holds it, with a valid signature"
for a in pemkot-semarang pemkot-bandung pemkot-surabaya pemkot-makassar; do
  sig=$($CLI show --node "$WORK/$a" "$ID" | grep '^Signature')
  att=$($CLI show --node "$WORK/$a" "$ID" --json | grep -o '"sha256":"[0-9a-f]*"' | head -1)
  printf '%-17s %s  attachment %s\n' "$a" "$sig" "$att"
  case "$sig" in *valid*) ;; *) echo "demo: $a has no valid signature" >&2; exit 1;; esac
done

say "The sender collects the signed receipts"
$CLI subscribe --node "$WORK/kemenpanrb" >"$WORK/kemenpanrb.out" 2>"$WORK/kemenpanrb.err" &
PIDS+=($!)
wait_for "$WORK/kemenpanrb.out" "receipt" 4
$CLI show --node "$WORK/kemenpanrb" "$ID" | sed -n '1,/^$/p'
echo "(anri is copied but its node never started: its copy waits at the broker)"

say "Semarang disposes the circular: Wali Kota → Sekretaris Daerah"
DUE=$(date -d '+14 days' +%F)
$CLI show --node "$WORK/pemkot-semarang" "$ID" >/dev/null   # opening it sends 'read' to the sender
D1=$($CLI dispose --node "$WORK/pemkot-semarang" "$ID" --from-unit walikota --to pemkot-semarang/setda \
  --instruction tindak-lanjuti,siapkan-jawaban --due "$DUE" --urgency segera \
  --note "Mohon dipelajari dan disiapkan rencana tindak lanjut penerapan naskah dinas elektronik.")
echo "disposition $D1 (walikota → setda, due $DUE)"

say "Sekretaris Daerah disposes on to Diskominfo Semarang and Diskominfo Jawa Tengah"
$CLI status --node "$WORK/pemkot-semarang" "$D1" read >/dev/null
D2=$($CLI dispose --node "$WORK/pemkot-semarang" "$D1" --to pemkot-semarang/diskominfo,pemprov-jateng/diskominfo \
  --instruction koordinasikan,laporkan --due "$DUE" \
  --note "Koordinasikan dengan Diskominfo Provinsi dan laporkan hasilnya.")
echo "disposition $D2 (setda → diskominfo, pemprov-jateng/diskominfo)"
$CLI status --node "$WORK/pemkot-semarang" "$D1" in-progress >/dev/null
wait_for "$WORK/pemprov-jateng.out" "$D2" 1
echo "Pemprov Jawa Tengah received the letter and the disposition:"
grep -- "$ID\|$D2" "$WORK/pemprov-jateng.out"

say "The offices report back"
$CLI show --node "$WORK/pemprov-jateng" "$D2" >/dev/null          # read, automatically
$CLI status --node "$WORK/pemprov-jateng" "$D2" in-progress >/dev/null
$CLI status --node "$WORK/pemprov-jateng" "$D2" done --note "Rapat koordinasi SPBE terlaksana 5 Desember" >/dev/null
$CLI status --node "$WORK/pemkot-semarang" "$D2" read >/dev/null
$CLI status --node "$WORK/pemkot-semarang" "$D2" in-progress >/dev/null
$CLI inbox --node "$WORK/pemprov-jateng"

say "Trace of the circular, as Kementerian PANRB sees it"
$CLI trace --node "$WORK/kemenpanrb" "$ID"
echo
echo "The same tree, asked by Pemprov Jawa Tengah for its own disposition, marks that one ▶:"
$CLI trace --node "$WORK/pemprov-jateng" "$D2" | grep '▶'
echo "Bappenas is not involved in this letter, so for it the letter does not exist:"
if $CLI trace --node "$WORK/bappenas" "$ID"; then echo "demo: bappenas could trace the letter" >&2; exit 1; fi

say "Demo finished: stopping broker and nodes"
