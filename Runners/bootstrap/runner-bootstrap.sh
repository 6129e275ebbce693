#!/usr/bin/env bash
# Runner bootstrap: the user data of every runner instance (see Runners/LIFECYCLE.md).
#
#   1. find our instance id (IMDSv2);
#   2. wait, bounded, for the single-use JIT runner config that the launch
#      lifecycle hook's Lambda stores at ${RUNNER_CONFIG_PREFIX}/<instance id>;
#   3. read it (decrypted) into a variable and delete the parameter;
#   4. run exactly one job as an unprivileged user with `run.sh --jitconfig`;
#   5. take this instance out of its Auto Scaling group, decrementing the
#      desired capacity; the group refuses that at its minimum size, and then
#      the instance goes without decrement so a fresh one replaces the floor.
#
# The template prepends only non-secret values (region, parameter prefix,
# runner version, group name). The JIT config is a credential: it is never
# echoed, never written to a file, and `set -x` must never be used here,
# because cloud-init copies this script's output to the console log.
#
# Every outside command is overridable through the environment so the test
# (test/runners/bootstrap.test.ts) runs this very file against stubs.
set -euo pipefail

: "${AWS_REGION:?AWS_REGION must be set by the user data header}"
: "${RUNNER_CONFIG_PREFIX:?RUNNER_CONFIG_PREFIX must be set by the user data header}"
: "${RUNNER_VERSION:?RUNNER_VERSION must be set by the user data header}"
AUTO_SCALING_GROUP_NAME="${AUTO_SCALING_GROUP_NAME:-}"
RUNNER_SHA256="${RUNNER_SHA256:-}"

AWS_CLI="${AWS_CLI:-aws}"
CURL="${CURL:-curl}"
IMDS_URL="${IMDS_URL:-http://169.254.169.254}"
RUNNER_USER="${RUNNER_USER:-runner}"
RUNNER_DIR="${RUNNER_DIR:-/opt/actions-runner}"
# How the runner is started as $RUNNER_USER (the test runs it as itself with `env`).
RUN_AS="${RUN_AS:-runuser -u ${RUNNER_USER} --}"
CREATE_RUNNER_USER="${CREATE_RUNNER_USER:-true}"
# Job code runs as $RUNNER_USER and has no business with the instance role.
BLOCK_IMDS_FOR_RUNNER="${BLOCK_IMDS_FOR_RUNNER:-true}"
CONFIG_WAIT_SECONDS="${CONFIG_WAIT_SECONDS:-280}"
POLL_INTERVAL_SECONDS="${POLL_INTERVAL_SECONDS:-2}"
SHUTDOWN_COMMAND="${SHUTDOWN_COMMAND:-shutdown -h now}"

export AWS_REGION AWS_DEFAULT_REGION="${AWS_REGION}"

log() {
  printf '%s runner-bootstrap: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2
}

imds_token() {
  ${CURL} -sS --fail --max-time 5 -X PUT "${IMDS_URL}/latest/api/token" \
    -H 'X-aws-ec2-metadata-token-ttl-seconds: 300'
}

instance_id() {
  local token
  token="$(imds_token)"
  ${CURL} -sS --fail --max-time 5 -H "X-aws-ec2-metadata-token: ${token}" \
    "${IMDS_URL}/latest/meta-data/instance-id"
}

# Leaves the group. Retries a few times; the decrement is refused at the
# group's minimum size, and then the instance goes without decrement.
remove_this_instance() {
  local id="$1" attempt
  for attempt in 1 2 3; do
    if ${AWS_CLI} autoscaling terminate-instance-in-auto-scaling-group \
      --instance-id "${id}" --should-decrement-desired-capacity >/dev/null; then
      log "terminating ${id} with desired capacity decremented"
      return 0
    fi
    if ${AWS_CLI} autoscaling terminate-instance-in-auto-scaling-group \
      --instance-id "${id}" --no-should-decrement-desired-capacity >/dev/null; then
      log "terminating ${id} without decrement (group at its minimum size); it will be replaced"
      return 0
    fi
    log "could not leave the group (attempt ${attempt}); retrying"
    sleep "${POLL_INTERVAL_SECONDS}"
  done
  # Last resort: a stopped instance fails its health check and the group replaces it.
  log "giving up on TerminateInstanceInAutoScalingGroup; shutting down"
  ${SHUTDOWN_COMMAND} || true
  return 1
}

install_runner() {
  if [[ -x "${RUNNER_DIR}/run.sh" ]]; then
    log "runner found in ${RUNNER_DIR} (baked into the image); skipping download"
    return 0
  fi
  local arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) log "unsupported architecture $(uname -m)"; return 1 ;;
  esac
  local archive="/tmp/actions-runner-${RUNNER_VERSION}.tar.gz"
  local url="https://github.com/actions/runner/releases/download/v${RUNNER_VERSION}/actions-runner-linux-${arch}-${RUNNER_VERSION}.tar.gz"
  log "downloading runner ${RUNNER_VERSION} (${arch})"
  ${CURL} -sS --fail --location --retry 5 --retry-delay 2 --max-time 300 -o "${archive}" "${url}"
  if [[ -n "${RUNNER_SHA256}" ]]; then
    printf '%s  %s\n' "${RUNNER_SHA256}" "${archive}" | sha256sum --check --status || {
      log "runner archive checksum mismatch; refusing to run it"
      return 1
    }
  else
    log "no RUNNER_SHA256 given; archive not verified (bake the runner into the AMI or set RunnerSha256)"
  fi
  mkdir -p "${RUNNER_DIR}"
  tar -xzf "${archive}" -C "${RUNNER_DIR}"
  rm -f "${archive}"
  if [[ -x "${RUNNER_DIR}/bin/installdependencies.sh" ]]; then
    "${RUNNER_DIR}/bin/installdependencies.sh" >/dev/null || log "installdependencies.sh failed; continuing"
  fi
}

prepare_runner_user() {
  if [[ "${CREATE_RUNNER_USER}" == "true" ]]; then
    id -u "${RUNNER_USER}" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "${RUNNER_USER}"
    chown -R "${RUNNER_USER}:" "${RUNNER_DIR}"
  fi
  [[ "${BLOCK_IMDS_FOR_RUNNER}" == "true" ]] || return 0
  if command -v iptables >/dev/null; then
    iptables -I OUTPUT -d 169.254.169.254 -m owner --uid-owner "${RUNNER_USER}" -j REJECT && return 0
  elif command -v nft >/dev/null; then
    nft add table inet runner_bootstrap &&
      nft add chain inet runner_bootstrap output '{ type filter hook output priority 0 ; }' &&
      nft add rule inet runner_bootstrap output ip daddr 169.254.169.254 meta skuid "${RUNNER_USER}" reject &&
      return 0
  fi
  log "could not block the metadata service for ${RUNNER_USER} (no iptables or nft); jobs can reach the instance role"
}

main() {
  local id
  id="$(instance_id)"
  if [[ ! "${id}" =~ ^i-[0-9a-f]{8,17}$ ]]; then
    log "unexpected instance id from IMDS"
    exit 1
  fi
  log "instance ${id} of group ${AUTO_SCALING_GROUP_NAME:-?}; runner ${RUNNER_VERSION}"
  local parameter="${RUNNER_CONFIG_PREFIX}/${id}"

  # Install while the lifecycle hook's Lambda is still generating the config.
  install_runner || { remove_this_instance "${id}"; exit 1; }
  prepare_runner_user

  local jit="" started="${SECONDS}"
  local deadline=$((SECONDS + CONFIG_WAIT_SECONDS))
  while [[ -z "${jit}" ]]; do
    # Until the Lambda has stored it the CLI fails with ParameterNotFound; that noise is dropped.
    jit="$(${AWS_CLI} ssm get-parameter --name "${parameter}" --with-decryption \
      --query Parameter.Value --output text 2>/dev/null)" || jit=""
    [[ -n "${jit}" ]] && break
    if ((SECONDS >= deadline)); then
      log "no runner config at ${parameter} after ${CONFIG_WAIT_SECONDS}s; leaving the group"
      remove_this_instance "${id}"
      exit 1
    fi
    sleep "${POLL_INTERVAL_SECONDS}"
  done
  log "runner config found after $((SECONDS - started))s"
  # Single use: nobody else may read it, even if it were still valid.
  ${AWS_CLI} ssm delete-parameter --name "${parameter}" >/dev/null ||
    log "could not delete ${parameter}; it expires with the registration"

  local status=0
  (cd "${RUNNER_DIR}" && ${RUN_AS} ./run.sh --jitconfig "${jit}") || status=$?
  jit=""
  log "runner exited with status ${status}; the job is over"
  remove_this_instance "${id}"
}

main "$@"
