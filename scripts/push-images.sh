#!/usr/bin/env bash
# Tag the locally built pivfleet images and push them to a registry (Amazon ECR).
#
#   scripts/push-images.sh REGISTRY          e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com
#   make push REGISTRY=123456789012.dkr.ecr.us-east-1.amazonaws.com      (builds them first)
#
# Pushes REGISTRY/pivfleet-worker:VERSION and REGISTRY/pivfleet-dispatcher:VERSION, where VERSION
# is `git describe --tags --always --dirty` unless VERSION is set. The ECR repositories must exist
# (the Terraform root creates them); give its image variables the references printed at the end.
#
# Environment:
#   VERSION       tag to push (default: git describe)
#   IMAGES        local image names to push (default: "pivfleet-worker pivfleet-dispatcher")
#   AWS_REGION    region for `aws ecr get-login-password` (default: read from the ECR host name)
#   SKIP_LOGIN=1  do not log in (you already ran `docker login` for this registry)
#   PUSH_LATEST=1 also push :latest (not with IMMUTABLE tags in ECR)
set -euo pipefail

die() {
    echo "push-images: error: $*" >&2
    exit 2
}

REGISTRY="${1:-${REGISTRY:-}}"
REGISTRY="${REGISTRY%/}"
if [[ -z "$REGISTRY" ]]; then
    die "no registry given. Usage: scripts/push-images.sh REGISTRY, or make push REGISTRY=...
  e.g. make push REGISTRY=123456789012.dkr.ecr.us-east-1.amazonaws.com"
fi
if [[ "$REGISTRY" == *"://"* ]]; then
    die "REGISTRY is a host name with an optional path, without a scheme: got '$REGISTRY'"
fi

command -v docker >/dev/null 2>&1 || die "docker is not installed or not on PATH"
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 \
    || die "cannot reach the Docker daemon (is Docker running?)"

if [[ -z "${VERSION:-}" ]]; then
    VERSION="$(git describe --tags --always --dirty 2>/dev/null || true)"
    [[ -n "$VERSION" ]] || die "cannot derive a version with git describe; set VERSION=..."
fi
# A Docker tag is [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}: turn anything else (e.g. '+') into '-'.
TAG="$(printf '%s' "$VERSION" | tr -c 'A-Za-z0-9_.-' '-' | cut -c1-128)"
[[ "$TAG" =~ ^[A-Za-z0-9_] ]] || TAG="v$TAG"

read -r -a images <<<"${IMAGES:-pivfleet-worker pivfleet-dispatcher}"
for image in "${images[@]}"; do
    docker image inspect "$image" >/dev/null 2>&1 \
        || die "local image '$image' not found: build it first (make images)"
done

login_host="${REGISTRY%%/*}"
if [[ "${SKIP_LOGIN:-0}" != 1 ]]; then
    if [[ "$login_host" =~ ^[0-9]{12}\.dkr\.ecr(-fips)?\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$ ]]; then
        region="${AWS_REGION:-${BASH_REMATCH[2]}}"
        command -v aws >/dev/null 2>&1 || die "the AWS CLI is needed to log in to ECR (or SKIP_LOGIN=1)"
        echo "push-images: logging in to $login_host ($region)"
        aws ecr get-login-password --region "$region" \
            | docker login --username AWS --password-stdin "$login_host"
    else
        echo "push-images: $login_host is not an ECR registry; using your existing docker login"
    fi
fi

pushed=()
for image in "${images[@]}"; do
    tags=("$TAG")
    [[ "${PUSH_LATEST:-0}" == 1 ]] && tags+=(latest)
    for tag in "${tags[@]}"; do
        ref="$REGISTRY/$image:$tag"
        docker tag "$image" "$ref"
        docker push "$ref"
        pushed+=("$ref")
    done
done

echo "push-images: pushed"
for ref in "${pushed[@]}"; do
    digest="$(docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$ref" \
        | grep -F "${ref%:*}@" | head -n 1 || true)"
    echo "  $ref${digest:+  ($digest)}"
done
