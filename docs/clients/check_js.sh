#!/usr/bin/env bash
# Re-checks the README's JavaScript client recipes against a running gateway (needs node and the npm registry;
# not part of the test suite):
#
#   docs/clients/check_js.sh http://127.0.0.1:8000/graphql "$AUDIT_DEMO_READER"
#
# relay-compiler compiles relay/Events.ts against schema.graphql; graphql-codegen runs codegen/codegen.ts and its
# fragment-matcher output must equal GET /graphql/possible-types.json; apollo_client.mjs pages the demo's orders.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
url=${1:-http://127.0.0.1:8000/graphql}
key=${2:?usage: check_js.sh URL READER_KEY}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

npm init -y >/dev/null
npm install --silent --no-audit --no-fund @apollo/client@4.3.8 graphql@16 rxjs relay-compiler@21.0.1 \
  @graphql-codegen/cli@7.4.3 @graphql-codegen/fragment-matcher@7.1.0 @graphql-codegen/typescript \
  @graphql-codegen/typescript-operations >/dev/null 2>&1
cp "$root/schema.graphql" .

echo "== relay-compiler"
mkdir -p relay/__generated__
cp "$here/relay/Events.ts" relay/
echo '{"src": "./relay", "schema": "./schema.graphql", "language": "typescript",
       "artifactDirectory": "./relay/__generated__"}' > relay.config.json
npx relay-compiler

echo "== graphql-codegen"
mkdir codegen
cp "$here/codegen/codegen.ts" "$here/codegen/events.graphql" codegen/
sed -i 's|../../../schema.graphql|../schema.graphql|' codegen/codegen.ts
(cd codegen && npx graphql-codegen --config codegen.ts >/dev/null)
python3 - "$url" codegen/out/possibleTypes.json <<'PY'
import json, sys, urllib.request
served = json.load(urllib.request.urlopen(sys.argv[1] + "/possible-types.json"))
generated = json.load(open(sys.argv[2]))["possibleTypes"]
assert {k: sorted(v) for k, v in generated.items()} == served, (generated, served)
print("fragment-matcher output == GET /graphql/possible-types.json")
PY

echo "== Apollo Client"
cp "$here/apollo_client.mjs" .
AUDIT_URL=$url AUDIT_KEY=$key node apollo_client.mjs
echo "all JavaScript recipes checked"
