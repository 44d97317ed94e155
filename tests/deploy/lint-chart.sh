#!/usr/bin/env bash
# helm lint --strict on the chart with each values scenario of its ci/ folder. Hermetic: an empty
# kubeconfig and Helm's homes in a temporary folder.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
chart="$here/../../deploy/helm/pixq"
helm="$here/node_modules/.k8s-tools/helm"
homes="$(mktemp -d)"
trap 'rm -rf "$homes"' EXIT
export KUBECONFIG=/dev/null HELM_CACHE_HOME="$homes" HELM_CONFIG_HOME="$homes" HELM_DATA_HOME="$homes"
passed=0
for values in "$chart"/ci/*.yaml; do
  "$helm" lint --strict --quiet "$chart" -f "$values"
  echo "helm lint --strict: $(basename "$values") ok"
  passed=$((passed + 1))
done
echo "helm lint --strict: $passed passed, 0 failed"
