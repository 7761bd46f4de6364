#!/usr/bin/env bash
# Rebuilds schemas/generated/ from the .proto files (the one source of truth). Run by `npm run gen`.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=schemas/generated
mkdir -p "$out"
pbjs=node_modules/.bin/pbjs
pbts=node_modules/.bin/pbts
# 1. Reflection JSON with the field options the validator reads; google/protobuf/descriptor is only
#    needed to parse the options, so it is dropped from what we ship.
"$pbjs" -t json -p schemas schemas/shopstream/events/v1/events.proto \
  | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);delete j.nested.google;const strip=(ns)=>{for(const [k,v] of Object.entries(ns.nested||{})){if(v.extend)delete ns.nested[k];else strip(v)}};strip(j);process.stdout.write(JSON.stringify(j,null,1))})' \
  > "$out/events.json"
# 2. Static code and its TypeScript declarations, from that JSON.
"$pbjs" -t static-module -w commonjs --force-number --no-verify --no-delimited --no-service \
  -o "$out/events.js" "$out/events.json"
"$pbts" --no-comments -o "$out/events.d.ts" "$out/events.js"
echo "schemas/generated: $(ls "$out" | tr '\n' ' ')"
