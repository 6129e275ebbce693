#!/usr/bin/env bash
# Runner bootstrap, the user data of every runner (docs/runners.md, "How a runner lives"). A failure
# before the job never starts the runner; each boot's end goes to BOOT_LOG_GROUP. The JIT config is
# never echoed, written to a file or reported, and never use `set -x`: cloud-init logs the output.
# Commands come from PATH or the environment: test/runners/bootstrap*.test.ts run this file.
set -euo pipefail

: "${AWS_REGION:?AWS_REGION must be set by the header}"
: "${RUNNER_CONFIG_PREFIX:?RUNNER_CONFIG_PREFIX must be set by the header}"
: "${RUNNER_VERSION:?RUNNER_VERSION must be set by the header}"
AUTO_SCALING_GROUP_NAME="${AUTO_SCALING_GROUP_NAME:-}"
RUNNER_SHA256="${RUNNER_SHA256:-}"
BOOT_LOG_GROUP="${BOOT_LOG_GROUP:-}"

AWS_CLI="${AWS_CLI:-aws}"
CURL="${CURL:-curl}"
IMDS_URL="${IMDS_URL:-http://169.254.169.254}"
OS_RELEASE_FILE="${OS_RELEASE_FILE:-/etc/os-release}"
RUNNER_RELEASES_URL="${RUNNER_RELEASES_URL:-https://github.com/actions/runner/releases}"
SNAP_BIN="${SNAP_BIN:-/snap/bin}"
RUNNER_USER="${RUNNER_USER:-runner}"
RUNNER_DIR="${RUNNER_DIR:-/opt/actions-runner}"
# The test runs the runner as itself with `env`.
RUN_AS="${RUN_AS:-runuser -u ${RUNNER_USER} --}"
CREATE_RUNNER_USER="${CREATE_RUNNER_USER:-true}"
BLOCK_IMDS_FOR_RUNNER="${BLOCK_IMDS_FOR_RUNNER:-true}"
CONFIG_WAIT_SECONDS="${CONFIG_WAIT_SECONDS:-280}"
POLL_INTERVAL_SECONDS="${POLL_INTERVAL_SECONDS:-2}"
INSTALL_RETRY_SECONDS="${INSTALL_RETRY_SECONDS:-10}"
SHUTDOWN_COMMAND="${SHUTDOWN_COMMAND:-shutdown -h now}"

# The boot report is a UTF-8 file; the CLI would read file:// in the locale's encoding.
export AWS_REGION AWS_DEFAULT_REGION="${AWS_REGION}" AWS_CLI_FILE_ENCODING=UTF-8

INSTANCE_ID="" OS_ID="unknown" OS_VERSION="" STAGE="identity" JIT="" LOG_STREAM_READY=false
BOOT_LOG="$(mktemp)"
trap 'rm -f "${BOOT_LOG}"' EXIT

log() {
  local line
  line="$(date -u +%Y-%m-%dT%H:%M:%SZ) runner-bootstrap: $*"
  printf '%s\n' "${line}" >&2
  printf '%s\n' "${line}" >>"${BOOT_LOG}"
}

# A JSON string; control characters but tab/newline/CR dropped, the JIT config redacted.
json_string() {
  local s
  s="$(LC_ALL=C tr -d '\000-\010\013\014\016-\037' <<<"$1")"
  # Invalid UTF-8 (a tail cut mid-character) would make the CLI refuse the whole batch.
  ! command -v iconv >/dev/null || s="$(iconv -c -f UTF-8 -t UTF-8 <<<"${s}" 2>/dev/null)" || true
  [[ -z "${JIT}" ]] || s="${s//"${JIT}"/[redacted]}"
  s="${s//\\/\\\\}" s="${s//\"/\\\"}"
  s="${s//$'\t'/\\t}" s="${s//$'\r'/\\r}" s="${s//$'\n'/\\n}"
  printf '"%s"' "${s}"
}

# Best effort: the lines logged since the last report, the newest Runner_/Worker_ diag tails if
# asked, and one JSON line for metric filters ({ $.outcome = "boot-failed" }).
report_boot() {
  local outcome="$1" detail="$2" with_diag="$3" now events prefix file
  [[ -n "${BOOT_LOG_GROUP}" && -n "${INSTANCE_ID}" ]] || return 0
  now="$(date +%s%3N)"
  events="{\"timestamp\":${now},\"message\":$(json_string "$(cat "${BOOT_LOG}")")}"
  if [[ "${with_diag}" == true ]]; then
    for prefix in Runner_ Worker_; do
      local -a diag=()
      shopt -s nullglob
      diag=("${RUNNER_DIR}/_diag/${prefix}"*.log) # named <prefix>yyyyMMdd-HHmmss-utc.log: the last is the newest
      shopt -u nullglob
      ((${#diag[@]})) || continue
      file="${diag[${#diag[@]} - 1]}"
      events+=",{\"timestamp\":${now},\"message\":$(json_string "runner diagnostic log ${file##*/} (tail):"$'\n'"$(tail -n 200 "${file}" | tail -c 60000)")}"
    done
  fi
  local summary
  summary="{\"outcome\":\"${outcome}\",\"stage\":\"${STAGE}\",\"instanceId\":\"${INSTANCE_ID}\",\"os\":\"${OS_ID} ${OS_VERSION}\",\"arch\":\"$(uname -m)\",\"runnerVersion\":\"${RUNNER_VERSION}\",${detail}}"
  events+=",{\"timestamp\":${now},\"message\":$(json_string "${summary}")}"
  file="$(mktemp)"
  printf '[%s]\n' "${events}" >"${file}"
  if [[ "${LOG_STREAM_READY}" != true ]]; then
    # Exists already after a repeated boot: harmless.
    ${AWS_CLI} logs create-log-stream --log-group-name "${BOOT_LOG_GROUP}" --log-stream-name "${INSTANCE_ID}" >/dev/null 2>&1 || true
    LOG_STREAM_READY=true
  fi
  ${AWS_CLI} logs put-log-events --log-group-name "${BOOT_LOG_GROUP}" --log-stream-name "${INSTANCE_ID}" \
    --log-events "file://${file}" >/dev/null || log "could not send the boot report to ${BOOT_LOG_GROUP}"
  rm -f "${file}"
  : >"${BOOT_LOG}"
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

# The decrement is refused at the group's minimum size; then the instance goes without decrement.
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

# The runner is never started after this.
fail_boot() {
  log "boot failed (${STAGE}): $1; the runner is not started"
  report_boot boot-failed "\"reason\":$(json_string "$1")" true || true
  remove_this_instance "${INSTANCE_ID}" || true
  exit 1
}

detect_os() {
  [[ -r "${OS_RELEASE_FILE}" ]] || return 0
  # os-release(5) is shell assignments; a subshell keeps them out of this one.
  # shellcheck source=/dev/null
  read -r OS_ID OS_VERSION < <(. "${OS_RELEASE_FILE}" && printf '%s %s\n' "${ID:-unknown}" "${VERSION_ID:-}")
}

# The runner's .NET needs ICU, Kerberos, OpenSSL, zlib; installdependencies.sh exits 1 on AL2023, which
# has no libicu (actions/runner#2511) nor iptables (aws/eks-hybrid#37). git: jobs are promised it.
packages_for_os() {
  case "${OS_ID} ${OS_VERSION}" in
    "amzn 2023") echo "libicu krb5-libs openssl-libs zlib tar gzip git nftables" ;;
    "ubuntu 24.04") echo "libicu74 libkrb5-3 libssl3t64 zlib1g tar gzip git nftables" ;;
    *) return 1 ;;
  esac
}

# shellcheck disable=SC2016 # dpkg-query's ${Status}
package_installed() {
  case "${OS_ID}" in
    amzn) rpm -q --quiet "$1" ;;
    ubuntu) [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]] ;;
  esac
}

install_packages() {
  case "${OS_ID}" in
    amzn) dnf install -y "$@" ;;
    # At first boot unattended-upgrades may hold the dpkg lock.
    ubuntu) apt-get -o DPkg::Lock::Timeout=300 update -q &&
      DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "$@" ;;
  esac
}

# Ubuntu 24.04 has no awscli package; the AWS CLI is the aws-cli snap, in /snap/bin (maybe not on PATH).
install_aws_cli() {
  command -v "${AWS_CLI%% *}" >/dev/null && return 0
  if [[ -x "${SNAP_BIN}/aws" ]]; then AWS_CLI="${SNAP_BIN}/aws" && return 0; fi
  [[ "${OS_ID}" == ubuntu ]] || return 0
  log "installing the AWS CLI (snap aws-cli)"
  snap wait system seed.loaded && snap install aws-cli --classic >/dev/null && AWS_CLI="${SNAP_BIN}/aws"
}

# Whatever the image, the runner starts only with all of it present.
verify_dependencies() {
  local missing=()
  # Not grep -q: it would stop reading, and ldconfig's SIGPIPE fails the pipe (pipefail).
  ldconfig -p 2>/dev/null | grep 'libicuuc\.so' >/dev/null || missing+=("libicu")
  command -v git >/dev/null || missing+=("git")
  command -v "${AWS_CLI%% *}" >/dev/null || missing+=("the AWS CLI")
  if [[ "${BLOCK_IMDS_FOR_RUNNER}" == true ]] && ! command -v nft >/dev/null && ! command -v iptables >/dev/null; then
    missing+=("nft or iptables")
  fi
  ((${#missing[@]} == 0)) || { log "missing on this image: ${missing[*]}" && return 1; }
}

install_dependencies() {
  local wanted package attempt output missing=()
  if ! wanted="$(packages_for_os)"; then
    log "${OS_ID} ${OS_VERSION} is not a supported image: installing nothing"
    verify_dependencies
    return
  fi
  for package in ${wanted}; do package_installed "${package}" || missing+=("${package}"); done
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    output="$(mktemp)"
    for attempt in 1 2 3; do
      install_packages "${missing[@]}" >"${output}" 2>&1 && break
      log "installing failed (attempt ${attempt}): $(tail -n 5 "${output}")"
      ((attempt < 3)) || { rm -f "${output}" && return 1; }
      sleep "${INSTALL_RETRY_SECONDS}"
    done
    rm -f "${output}"
  else
    log "${wanted} already installed"
  fi
  install_aws_cli || log "could not install the AWS CLI"
  verify_dependencies
}

# releases/latest redirects to .../tag/v<version> (GitHub docs, "Linking to releases"); api.github.com
# would allow 60 requests an hour per address, shared by every instance behind one NAT gateway.
resolve_runner_version() {
  [[ "${RUNNER_VERSION}" == latest ]] || return 0
  if [[ -n "${RUNNER_SHA256}" ]]; then
    log "RUNNER_SHA256 needs a pinned RUNNER_VERSION, not latest"
    return 1
  fi
  local location
  location="$(${CURL} -sS --fail --max-time 20 --retry 3 --retry-delay 2 -o /dev/null -w '%{redirect_url}' \
    "${RUNNER_RELEASES_URL}/latest")" || location=""
  if [[ ! "${location##*/v}" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
    log "could not resolve the latest runner release from ${RUNNER_RELEASES_URL}/latest"
    return 1
  fi
  RUNNER_VERSION="${location##*/v}"
  log "latest runner release is ${RUNNER_VERSION}"
}

install_runner() {
  if [[ -x "${RUNNER_DIR}/run.sh" ]]; then
    log "runner found in ${RUNNER_DIR} (baked into the image)"
    return 0
  fi
  local arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) log "unsupported architecture $(uname -m)" && return 1 ;;
  esac
  resolve_runner_version || return 1
  local archive="/tmp/actions-runner-${RUNNER_VERSION}.tar.gz"
  local url="${RUNNER_RELEASES_URL}/download/v${RUNNER_VERSION}/actions-runner-linux-${arch}-${RUNNER_VERSION}.tar.gz"
  log "downloading runner ${RUNNER_VERSION} (${arch})"
  ${CURL} -sS --fail --location --retry 5 --retry-delay 2 --max-time 300 -o "${archive}" "${url}" || return 1
  if [[ -n "${RUNNER_SHA256}" ]]; then
    printf '%s  %s\n' "${RUNNER_SHA256}" "${archive}" | sha256sum --check --status || {
      log "runner archive checksum mismatch; refusing to run it"
      return 1
    }
  else
    log "no RUNNER_SHA256: archive not verified"
  fi
  mkdir -p "${RUNNER_DIR}"
  tar -xzf "${archive}" -C "${RUNNER_DIR}"
  rm -f "${archive}"
}

prepare_runner_user() {
  [[ "${CREATE_RUNNER_USER}" == "true" ]] || return 0
  id -u "${RUNNER_USER}" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "${RUNNER_USER}"
  chown -R "${RUNNER_USER}:" "${RUNNER_DIR}"
}

# With the instance role a job could terminate any instance of the group. IPv4 and IPv6 (Nitro).
block_imds() {
  if [[ "${BLOCK_IMDS_FOR_RUNNER}" != "true" ]]; then
    log "BLOCK_IMDS_FOR_RUNNER=${BLOCK_IMDS_FOR_RUNNER}: jobs can reach the instance role"
    return 0
  fi
  if command -v nft >/dev/null; then
    local rules
    nft add table inet runner_bootstrap &&
      nft add chain inet runner_bootstrap output '{ type filter hook output priority 0 ; }' &&
      nft add rule inet runner_bootstrap output meta skuid "${RUNNER_USER}" ip daddr 169.254.169.254 reject &&
      nft add rule inet runner_bootstrap output meta skuid "${RUNNER_USER}" ip6 daddr fd00:ec2::254 reject &&
      rules="$(nft list chain inet runner_bootstrap output)" || return 1
    [[ "${rules}" == *"169.254.169.254"*reject* && "${rules}" == *"fd00:ec2::254"*reject* ]] || return 1
  elif command -v iptables >/dev/null; then
    local rule=(OUTPUT -d 169.254.169.254 -m owner --uid-owner "${RUNNER_USER}" -j REJECT)
    iptables -I "${rule[@]}" && iptables -C "${rule[@]}" || return 1
    if command -v ip6tables >/dev/null; then
      rule[2]=fd00:ec2::254
      ip6tables -I "${rule[@]}" && ip6tables -C "${rule[@]}" || return 1
    fi
  else
    return 1
  fi
  # Rules in place may still not apply: try as the runner user.
  if ${RUN_AS} "${CURL}" -sS --connect-timeout 2 -o /dev/null -X PUT "${IMDS_URL}/latest/api/token" \
    -H 'X-aws-ec2-metadata-token-ttl-seconds: 10' 2>/dev/null; then
    log "${RUNNER_USER} still reaches the metadata service" && return 1
  fi
  log "metadata service blocked for ${RUNNER_USER}"
}

main() {
  INSTANCE_ID="$(instance_id)"
  if [[ ! "${INSTANCE_ID}" =~ ^i-[0-9a-f]{8,17}$ ]]; then
    log "unexpected instance id from IMDS"
    exit 1
  fi
  detect_os
  log "instance ${INSTANCE_ID} of group ${AUTO_SCALING_GROUP_NAME:-?}; ${OS_ID:-unknown} ${OS_VERSION} $(uname -m); runner ${RUNNER_VERSION}"
  local parameter="${RUNNER_CONFIG_PREFIX}/${INSTANCE_ID}"

  # All while the lifecycle hook's Lambda generates the config.
  STAGE=dependencies
  install_dependencies || fail_boot "the runner's dependencies could not be installed"
  STAGE=runner-install
  install_runner || fail_boot "the runner ${RUNNER_VERSION} could not be installed"
  STAGE=runner-user
  prepare_runner_user || fail_boot "the runner user could not be prepared"
  STAGE=metadata-block
  block_imds || fail_boot "the metadata service could not be blocked for ${RUNNER_USER}"

  STAGE=config-wait
  local started="${SECONDS}" deadline=$((SECONDS + CONFIG_WAIT_SECONDS))
  while [[ -z "${JIT}" ]]; do
    JIT="$(${AWS_CLI} ssm get-parameter --name "${parameter}" --with-decryption \
      --query Parameter.Value --output text 2>/dev/null)" || JIT=""
    [[ -n "${JIT}" ]] && break
    ((SECONDS < deadline)) || fail_boot "no runner config at ${parameter} after ${CONFIG_WAIT_SECONDS}s"
    sleep "${POLL_INTERVAL_SECONDS}"
  done
  log "runner config found after $((SECONDS - started))s"
  # Single use: nobody else may read it.
  ${AWS_CLI} ssm delete-parameter --name "${parameter}" >/dev/null ||
    log "could not delete ${parameter}; it expires with the registration"

  STAGE=runner
  report_boot runner-started '"reason":"runner starting"' false || true
  local status=0 ran_job=false
  (cd "${RUNNER_DIR}" && ${RUN_AS} ./run.sh --jitconfig "${JIT}") || status=$?
  compgen -G "${RUNNER_DIR}/_diag/Worker_*.log" >/dev/null && ran_job=true
  log "runner exited with status ${status}; ran a job: ${ran_job}"
  local failed=true
  [[ "${status}" != 0 || "${ran_job}" != true ]] || failed=false
  report_boot runner-exited "\"exitStatus\":${status},\"ranJob\":${ran_job}" "${failed}" || true
  JIT=""
  remove_this_instance "${INSTANCE_ID}"
}

main "$@"
