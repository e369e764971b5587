#!/bin/sh
# install.sh: install this wheelbundle into a Python virtual environment, offline.
#
# How an install goes, and why a failed one changes nothing:
#  1. Preflight, before anything is written: every file matches SHA256SUMS and wheels/ holds
#     nothing unlisted; support/probe.py picks the first target in support/targets.json whose
#     Python version and wheel tags fit the interpreter, or says what the bundle needs. A bundle
#     made with --python-runtime brings its interpreter: it is checked (architecture, glibc,
#     checksum) and unpacked into a scratch folder, and no Python of the server's is needed.
#  2. A new release is built next to VENV_DIR, in VENV_DIR.releases/NAME-VERSION-STAMP:
#     "python -m venv --without-pip" (so ensurepip is never needed), then ONE pip run straight
#     from the bundled pip wheel installs the target's lock: --no-index (never the network),
#     --require-hashes, none of the server's pip configuration; the bytecode is compiled after
#     it on every core (pip would use one). Then "pip check" (uv's own, when uv installed).
#     A bundle made with --installer uv carries uv's wheel: its uv program, unpacked beside the
#     release, installs the same lock instead (offline, hash-checked, bytecode compiled, its
#     cache deleted with it), unless it cannot run here: then pip does, after a one-line note.
#     A bundled runtime moves into the release (RELEASE/runtime) and the venv is built from it.
#     The release is built in its final place because a venv cannot be moved afterwards (its
#     scripts and activate carry its absolute path); until it is complete an empty marker file
#     RELEASE.partial sits beside it.
#  3. Only then is VENV_DIR switched: it is a symlink to the current release, replaced by one
#     atomic rename. A real directory at VENV_DIR (a venv made some other way) is first moved
#     to VENV_DIR.releases/previous-STAMP. While the switch is under way the symlink
#     VENV_DIR.releases/switching names what VENV_DIR was before it.
#  4. VENV_DIR.releases/rollback points at the release that was current before (--rollback swaps
#     the two); any other release is deleted.
# A failure or Ctrl-C before the switch is done deletes the new release: VENV_DIR stays as it
# was. A run killed outright (kill -9, power loss) during the switch leaves "switching" behind:
# the next run (install or --rollback) first puts VENV_DIR back as "switching" names it.
# Concurrent runs against the same VENV_DIR are not supported.
#
# Exit status: 0 done, 1 failed, 2 usage, 3 the bundle does not fit this server, 4 bundle damaged.
set -eu

usage() {
    cat <<'EOF'
Usage: ./install.sh [--check | --describe | --rollback] [--python PATH]
                    [--allowed-signers FILE] [--base OLD] [--no-uv] [VENV_DIR]

Installs this bundle's wheels into a new virtual environment, without network access.

  VENV_DIR       where the environment goes: default $VIRTUAL_ENV if one is active,
                 else ./venv beside this script
  --python PATH  interpreter to build the environment from (default: the Python runtime the
                 bundle carries, if it was made with --python-runtime, else python3); its
                 version and platform must fit the bundle
  --allowed-signers FILE
                 refuse the bundle unless SHA256SUMS.sig is a signature of SHA256SUMS by a
                 key in FILE (OpenSSH allowed_signers format; needs ssh-keygen 8.2 or later)
  --base OLD     for a delta bundle (made with bundle make --since): the bundle it was made
                 against, as its folder or its .tar.gz; the wheels it did not carry again are
                 taken from there into wheels/ and checked against SHA256SUMS like the rest
  --no-uv        install with pip even if the bundle carries uv (made with --installer uv)
  --check        run the preflight checks only (checksums, Python, platform); change nothing
  --describe     print what support/probe.py sees on this server (JSON); change nothing
  --rollback     switch VENV_DIR back to the release that was installed before this one
  --help         show this text

Layout: VENV_DIR is a symlink to VENV_DIR.releases/NAME-VERSION-STAMP. Each run builds a new
release beside it and switches VENV_DIR only once the release is complete and passes
"pip check"; if anything fails, VENV_DIR is left exactly as it was. The previous release is
kept for --rollback (VENV_DIR.releases/rollback points at it); older ones are deleted.
A plain venv directory found at VENV_DIR is kept as VENV_DIR.releases/previous-STAMP.

Exit status: 0 done, 1 failed, 2 usage error, 3 the bundle does not fit this server,
4 the bundle is damaged or incomplete, or not signed by an allowed key.
EOF
}

say() { printf '%s\n' "$*" >&2; }
die() { code=$1; shift; printf 'error: %s\n' "$*" >&2; exit "$code"; }
# Ctrl-C, seen by the shell (its trap) or by a step (which then exits 130): never a failure of
# the step, and never a step done.
interrupted() { say "interrupted"; exit 130; }

MODE=install PY=python3 PY_GIVEN=no VENV='' SIGNERS='' USE_UV=yes BASE='' RUNTIME_DIR='' RUNTIME_FILE=''
BASE_DIR='' TAKEN=wheels SUMS_CHECKED=no
set_mode() { [ "$MODE" = install ] || die 2 "choose one of --check, --describe, --rollback"; MODE=$1; }
while [ $# -gt 0 ]; do
    case $1 in
        -h | --help) usage; exit 0 ;;
        --check) set_mode check ;;
        --describe) set_mode describe ;;
        --rollback) set_mode rollback ;;
        --python) [ $# -ge 2 ] || die 2 "--python needs a path"; PY=$2 PY_GIVEN=yes; shift ;;
        --python=*) PY=${1#--python=} PY_GIVEN=yes ;;
        --allowed-signers) [ $# -ge 2 ] || die 2 "--allowed-signers needs a file"; SIGNERS=$2; shift ;;
        --allowed-signers=*) SIGNERS=${1#--allowed-signers=} ;;
        --base) [ $# -ge 2 ] || die 2 "--base needs a bundle (folder or .tar.gz)"; BASE=$2; shift ;;
        --base=*) BASE=${1#--base=} ;;
        --no-uv) USE_UV=no ;;
        -*) die 2 "unknown option $1 (see --help)" ;;
        *) [ -z "$VENV" ] || die 2 "more than one VENV_DIR: $VENV, $1"; VENV=$1 ;;
    esac
    shift
done

# Where to install: an absolute path without trailing slash, its parent's symlinks resolved.
HERE=$(cd -P -- "$(dirname -- "$0")" && pwd -P)
if [ -z "$VENV" ] && [ -n "${VIRTUAL_ENV:-}" ]; then
    VENV=$VIRTUAL_ENV
    case $VENV in *.releases/*) VENV=${VENV%.releases/*} ;; esac # activated from a release
fi
[ -n "$VENV" ] || VENV=$HERE/venv
case $VENV in /*) ;; *) VENV=$PWD/$VENV ;; esac
while [ "$VENV" != / ] && [ "${VENV%/}" != "$VENV" ]; do VENV=${VENV%/}; done
[ "$VENV" != / ] || die 2 "VENV_DIR cannot be /"
if parent=$(cd -P -- "$(dirname -- "$VENV")" 2>/dev/null && pwd -P); then
    VENV=${parent%/}/$(basename -- "$VENV")
fi
case $PY in */*) case $PY in /*) ;; *) PY=$PWD/$PY ;; esac ;; esac # a relative --python path
case $SIGNERS in '' | /*) ;; *) SIGNERS=$PWD/$SIGNERS ;; esac
case $BASE in '' | /*) ;; *) BASE=$PWD/$BASE ;; esac
RELEASES=$VENV.releases
cd "$HERE"

# pip, uv and Python see none of the server's settings: no pip.conf, no PIP_* or UV_*, no user
# site-packages, no PYTHONPATH (pip would count packages found there as installed).
for var in $(env | sed -n 's/^\(PIP_[A-Za-z0-9_]*\)=.*/\1/p; s/^\(UV_[A-Za-z0-9_]*\)=.*/\1/p'); do
    unset "$var"
done
unset PYTHONPATH
PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PYTHONNOUSERSITE=1
export PIP_CONFIG_FILE PIP_DISABLE_PIP_VERSION_CHECK PIP_NO_INPUT PYTHONNOUSERSITE

# What needs Python is in support/steps.py (its docstring lists the steps), run from here.
steps() { "$PY" support/steps.py "$@"; }

# switch_link LINK TARGET: point LINK at TARGET with one rename(2), so LINK never goes missing.
switch_link() {
    rm -f "$1.tmp-link"
    ln -s "$2" "$1.tmp-link"
    steps replace "$1.tmp-link" "$1"
}

# --allowed-signers FILE: SHA256SUMS.sig must be a signature of SHA256SUMS (which holds every
# other file's hash) by a key in FILE, in the namespace "wheelbundle". It runs first, so
# check_sums then rests on signed hashes.
verify_signature() {
    if [ -z "$SIGNERS" ]; then
        [ ! -f SHA256SUMS.sig ] || say "the bundle is signed; pass --allowed-signers FILE to check who signed it"
        return 0
    fi
    [ -f "$SIGNERS" ] || die 2 "no allowed signers file at $SIGNERS"
    command -v ssh-keygen >/dev/null 2>&1 ||
        die 1 "--allowed-signers needs ssh-keygen (OpenSSH 8.2 or later), which is not installed"
    [ -f SHA256SUMS.sig ] || die 4 "SHA256SUMS.sig: the bundle is not signed, and --allowed-signers asks for a signature"
    [ -f SHA256SUMS ] || die 4 "SHA256SUMS is missing (the bundle is incomplete)"
    signer=$(ssh-keygen -Y find-principals -f "$SIGNERS" -s SHA256SUMS.sig 2>/dev/null | head -n 1)
    signer=${signer%%,*}
    [ -n "$signer" ] || die 4 "SHA256SUMS.sig: not signed by any key in $SIGNERS"
    ssh-keygen -Y verify -f "$SIGNERS" -I "$signer" -n wheelbundle -s SHA256SUMS.sig \
        <SHA256SUMS >/dev/null 2>&1 ||
        die 4 "SHA256SUMS.sig: the signature by $signer does not match SHA256SUMS (changed after signing)"
    say "signature checked: SHA256SUMS signed by $signer"
}

check_sums() {
    [ -f SHA256SUMS ] || die 4 "SHA256SUMS is missing (the bundle is incomplete)"
    if command -v sha256sum >/dev/null 2>&1; then
        out=$(LC_ALL=C sha256sum -c --quiet --strict SHA256SUMS 2>&1) && return 0
    else
        out=$(steps check-sums 2>&1) && return 0 # no sha256sum: the same check in Python
    fi
    bad=$(printf '%s\n' "$out" | grep ': FAILED' | head -n 1)
    case $bad in
        *': FAILED') die 4 "${bad%: FAILED}: checksum mismatch (the bundle was changed or damaged in transit)" ;;
        *': FAILED '*) die 4 "${bad%%: FAILED *}: missing or unreadable (the bundle is incomplete)" ;;
        *) die 4 "SHA256SUMS cannot be checked: $(printf '%s\n' "$out" | head -n 1)" ;;
    esac
}

check_no_extra_wheels() {
    [ -d wheels ] || die 4 "wheels/ is missing (the bundle is incomplete)"
    extra=$(find wheels ! -type d | awk '
        NR == FNR { sub(/^[0-9a-fA-F]+ [ *]/, ""); listed[$0] = 1; next }
        !($0 in listed) { print; exit }' SHA256SUMS -)
    [ -z "$extra" ] || die 4 "$extra: not listed in SHA256SUMS (added after the bundle was made)"
}

check_python() {
    PY_VERSION=$("$PY" -c 'import platform; print(platform.python_version())' 2>/dev/null) ||
        die 1 "cannot run $PY"
    case $PY_VERSION in
        2.* | 3.[0-7] | 3.[0-7].*) die 3 "installing needs Python 3.8 or later; $PY is Python $PY_VERSION (name a newer one with --python PATH)" ;;
    esac
}

require_python() {
    command -v "$PY" >/dev/null 2>&1 || die 1 "no Python at '$PY': install Python 3, or pass --python PATH"
}

# at_least HAVE NEED: version HAVE (MAJOR.MINOR) is NEED or later.
at_least() {
    have_major=${1%%.*} have_minor=${1#*.} need_major=${2%%.*} need_minor=${2#*.}
    have_minor=${have_minor%%.*} need_minor=${need_minor%%.*}
    [ "$have_major" -gt "$need_major" ] ||
        { [ "$have_major" -eq "$need_major" ] && [ "$have_minor" -ge "$need_minor" ]; }
}

# A bundle made with --python-runtime carries its interpreter (support/runtimes.txt lists one
# per target: TARGET MACHINE GLIBC PYTHON MEMBER) and uses it unless --python names another.
# The first that fits this machine's architecture (uname -m) and glibc (getconf) is checked
# against SHA256SUMS, unpacked into a scratch folder for the preflight, and run once; the
# release takes it over later. Only /bin/sh, tar, gzip and coreutils are needed for that.
use_runtime() {
    [ "$PY_GIVEN" = no ] && [ -f support/runtimes.txt ] || return 0
    machine=$(uname -m)
    glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null) || glibc='no glibc'
    member='' wanted='' plain=no
    while read -r _ r_machine r_glibc r_python r_member; do
        if [ "$r_member" = - ]; then plain=yes; continue; fi # a target for the server's Python
        wanted="${wanted:+$wanted, }CPython $r_python for $r_machine with glibc $r_glibc or later"
        if [ -n "$member" ] || [ "$r_machine" != "$machine" ]; then continue; fi
        case $glibc in "glibc "*) at_least "${glibc#glibc }" "$r_glibc" || continue ;; *) continue ;; esac
        member=$r_member RUNTIME_PYTHON=$r_python RUNTIME_FILE=${r_member#runtime/}
    done <support/runtimes.txt
    if [ -z "$member" ] && [ "$plain" = yes ]; then return 0; fi
    [ -n "$member" ] ||
        die 3 "the Python runtime this bundle carries ($wanted) cannot run here: this server is $machine with $glibc; name a fitting Python with --python PATH"
    command -v sha256sum >/dev/null 2>&1 || die 1 "checking the bundled Python runtime needs sha256sum (coreutils)"
    expected=$(awk -v m="$member" '$2 == m { print $1 }' SHA256SUMS 2>/dev/null)
    [ -n "$expected" ] || die 4 "$member: not listed in SHA256SUMS (the bundle is incomplete)"
    actual=$(sha256sum <"$member" 2>/dev/null) || die 4 "$member: missing or unreadable (the bundle is incomplete)"
    [ "${actual%% *}" = "$expected" ] ||
        die 4 "$member: checksum mismatch (the bundle was changed or damaged in transit)"
    check_runtime_members "$member"
    sweep_scratch
    RUNTIME_DIR=$(mktemp -d "${TMPDIR:-/tmp}/wheelbundle-runtime.$$.XXXXXX") ||
        die 1 "cannot make a scratch folder for the Python runtime in ${TMPDIR:-/tmp}"
    tar -xzof "$member" -C "$RUNTIME_DIR" || die 1 "cannot unpack $member into $RUNTIME_DIR (is the disk full?)"
    check_runtime_unpacked "$member"
    PY=$RUNTIME_DIR/python/bin/python3
    out=$("$PY" -c 'import sys' 2>&1) ||
        die 3 "the Python runtime this bundle carries cannot run here: $(printf '%s\n' "$out" | head -n 1)"
    say "using the bundled Python runtime, CPython $RUNTIME_PYTHON"
}

# A runtime's members, listed by tar before one is unpacked, held to the rules bundle make held
# them to (the members module): all below python/, no absolute or .. path; directories, files,
# symlinks whose target stays in python/, hardlinks to a file before them; no device, FIFO,
# setuid or setgid file; no member over 1 GiB, 4 GiB in all; no path through a symlink.
# It is awk, not Python, because it runs before any Python exists: on a server without one, the
# runtime it checks is the only Python there will be.
check_runtime_members() {
    listing=$(LC_ALL=C tar -tvzf "$1" 2>/dev/null) || die 4 "$1: cannot be read as a tar.gz"
    bad=$(printf '%s\n' "$listing" | LC_ALL=C awk -v max=1073741824 -v total_max=4294967296 '
        function fail(why) { print "member '\''" name "'\'' is " why; bad = 1; exit }
        function normal(path,    n, parts, i, depth, stack, out) {
            n = split(path, parts, "/"); depth = 0
            for (i = 1; i <= n; i++) {
                if (parts[i] == "" || parts[i] == ".") continue
                if (parts[i] != "..") { stack[++depth] = parts[i]; continue }
                if (depth == 0) return ".."
                depth--
            }
            out = stack[1]; for (i = 2; i <= depth; i++) out = out "/" stack[i]
            return depth ? out : "."
        }
        function through(path,    n, parts, i, j, depth, stack, here) {
            n = split(path, parts, "/"); depth = 0
            for (i = 1; i <= n; i++) {
                if (parts[i] == "" || parts[i] == ".") continue
                here = stack[1]; for (j = 2; j <= depth; j++) here = here "/" stack[j]
                if (depth && (here in link)) return here
                if (parts[i] == "..") { if (depth) depth-- } else stack[++depth] = parts[i]
            }
            return ""
        }
        {
            mode = $1; type = substr(mode, 1, 1); size = $3; rest = $0
            for (i = 0; i < 5; i++) sub(/^[^ ]+ +/, "", rest)
            name = rest; target = ""
            arrow = type == "l" ? " -> " : type == "h" ? " link to " : ""
            if (arrow != "") {
                k = index(rest, arrow); name = substr(rest, 1, k - 1); target = substr(rest, k + length(arrow))
                if (k == 0 || index(target, arrow)) fail("a link tar cannot list plainly")
            } else if (index(rest, " -> ") || index(rest, " link to ")) fail("an unusual name")
            sub(/\/$/, "", name)
            if (name ~ /^\// || index(name, "\\")) fail("an absolute or unusual path")
            if (("/" name "/") ~ /\/\.\.\//) fail("a path that climbs out with ..")
            if (name != "python" && substr(name, 1, 7) != "python/") fail("outside python/")
            if (substr(mode, 4, 1) ~ /[sS]/ || substr(mode, 7, 1) ~ /[sS]/) fail("a setuid or setgid file")
            if (type == "-" && size + 0 > max) fail(size " bytes, more than any real file")
            if (type == "-") total += size
            if (total > total_max) fail("past " total_max " bytes unpacked, more than any real runtime")
            if (name in seen) fail("listed twice")
            seen[name] = 1
            if (type == "-") files[name] = 1
            else if (type == "l") {
                if (target ~ /^\//) fail("a symlink to an absolute path (" target ")")
                dir = name; sub(/\/[^\/]*$/, "", dir); if (dir == name) dir = ""
                joined = dir "/" target
                resolved = normal(joined)
                if (resolved != "python" && substr(resolved, 1, 7) != "python/") fail("a symlink that leaves python/ (" target ")")
                link[name] = joined
            } else if (type == "h") {
                if (!(target in files)) fail("a hardlink to " target ", which is not a file before it in python/")
            } else if (type != "d") fail("a device, FIFO or other special file")
        }
        END {
            if (bad) exit
            for (name in seen) if ((t = through(name)) != "") { print "member '\''" name "'\'' is below the symlink '\''" t "'\''"; exit }
            for (name in link) if ((t = through(link[name])) != "") { print "member '\''" name "'\'' is a symlink through the symlink '\''" t "'\''"; exit }
        }')
    [ -z "$bad" ] || die 4 "$1: $bad; nothing was unpacked"
}

# What tar wrote, looked at once more: nothing special, nothing setuid, no link out of python/.
check_runtime_unpacked() {
    odd=$(find "$RUNTIME_DIR" \( -type b -o -type c -o -type p -o -type s -o -perm -4000 -o -perm -2000 \) -print | head -n 1)
    [ -z "$odd" ] || die 4 "$1: ${odd#"$RUNTIME_DIR"/} is a special or setuid file; the runtime is not used"
    real=$(cd -P "$RUNTIME_DIR" && pwd -P)
    out=$(find "$RUNTIME_DIR" -type l -exec sh -c '
        for link; do
            case $(readlink -f "$link") in "$0"/python | "$0"/python/*) ;; *) printf "%s\n" "$link"; exit ;; esac
        done' "$real" {} +)
    [ -z "$out" ] || die 4 "$1: ${out#"$RUNTIME_DIR"/} links outside python/; the runtime is not used"
}

# A run killed outright (kill -9) leaves its scratch folders in $TMPDIR: those whose process is
# gone are removed by the next run.
sweep_scratch() {
    for old in "${TMPDIR:-/tmp}"/wheelbundle-runtime.* "${TMPDIR:-/tmp}"/wheelbundle-base.*; do
        if [ ! -d "$old" ] || [ ! -O "$old" ]; then continue; fi
        pid=${old#"${TMPDIR:-/tmp}"/wheelbundle-*.} && pid=${pid%%.*}
        case $pid in '' | *[!0-9]*) continue ;; esac
        kill -0 "$pid" 2>/dev/null || rm -rf "$old"
    done
}

# A delta bundle (bundle make --since) lists every wheel in SHA256SUMS but carries only those
# its base did not. Its own files are checked first (targets.json before it is read), then the
# others are taken from the base, each bounded by its size and checked against its hash as it
# is read: into wheels/, or for --check into a scratch folder, so that nothing changes.
take_base() {
    if [ -z "$BASE" ] && ! grep -q '"base":' support/targets.json 2>/dev/null; then return 0; fi
    check_python
    if [ "$MODE" = check ]; then
        sweep_scratch
        BASE_DIR=$(mktemp -d "${TMPDIR:-/tmp}/wheelbundle-base.$$.XXXXXX") ||
            die 1 "cannot make a scratch folder for the base's wheels in ${TMPDIR:-/tmp}"
        TAKEN=$BASE_DIR
    fi
    steps take-base support/targets.json "$BASE" "$TAKEN" || exit $?
    SUMS_CHECKED=yes
}

select_target() {
    check_python
    code=0
    selected=$("$PY" support/probe.py --select support/targets.json ${RUNTIME_FILE:+--runtime "$RUNTIME_FILE"} \
        --wheels "$TAKEN") || code=$?
    case $code in
        0) ;;
        3) exit 3 ;; # probe.py said what the bundle needs and what this server has
        2) exit 4 ;; # probe.py named the problem with targets.json
        *) die 1 "support/probe.py failed under $PY (Python $PY_VERSION)" ;;
    esac
    TARGET=$(printf '%s\n' "$selected" | cut -f 1)
    LOCK=$(printf '%s\n' "$selected" | cut -f 2)
    info=$(steps target-info support/targets.json "$TARGET")
    NAME=$(printf '%s\n' "$info" | cut -f 1)
    VERSION=$(printf '%s\n' "$info" | cut -f 2)
    PIP_WHEEL=$(printf '%s\n' "$info" | cut -f 3)
    UV_WHEEL=$(printf '%s\n' "$info" | cut -f 4)
    [ -f "$LOCK" ] || die 4 "$LOCK is missing (the bundle is incomplete)"
    for wheel in "$PIP_WHEEL" "$UV_WHEEL"; do
        [ -z "$wheel" ] || [ -f "wheels/$wheel" ] || [ -f "$TAKEN/$wheel" ] ||
            die 4 "wheels/$wheel is missing (the bundle is incomplete)"
    done
}

check_venv_dir() {
    [ ! -e "$RELEASES" ] || [ -d "$RELEASES" ] || die 1 "$RELEASES exists and is not a directory"
    dir=$(dirname -- "$VENV")
    while [ ! -d "$dir" ]; do dir=$(dirname -- "$dir"); done
    for dir in "$dir" "$RELEASES"; do
        [ ! -d "$dir" ] || [ -w "$dir" ] ||
            die 1 "cannot write to $dir: run as its owner, or choose another VENV_DIR"
    done
    if [ -L "$VENV" ] || [ ! -e "$VENV" ]; then return 0; fi
    [ -d "$VENV" ] || die 1 "$VENV exists and is not a directory"
    [ -f "$VENV/pyvenv.cfg" ] || [ -z "$(ls -A "$VENV")" ] ||
        die 1 "$VENV exists and is not a virtual environment; choose another VENV_DIR"
}

# undo_switch: VENV back to what RELEASES/switching names (a release, a plain venv moved aside
# as previous-STAMP, or "none"), after a run that was stopped in the middle of its switch. Each
# step may be repeated: a kill during the undo leaves "switching" for the next run.
undo_switch() {
    was=$(readlink "$RELEASES/switching")
    case $was in
        none) if [ -L "$VENV" ]; then rm -f "$VENV"; fi ;;
        "$RELEASES"/previous-*)
            if [ -d "$was" ] && { [ -L "$VENV" ] || [ ! -e "$VENV" ]; }; then
                rm -f "$VENV"
                mv "$was" "$VENV" || die 1 "cannot put $was back at $VENV"
            elif [ -d "$was" ]; then # VENV was made again since: the moved venv is kept apart
                mv "$was" "$RELEASES/kept-${was##*/previous-}" || die 1 "cannot keep $was"
                say "note: $VENV was made again after an install was stopped; the venv that install had moved aside is kept as $RELEASES/kept-${was##*/previous-}"
                rm -f "$RELEASES/switching"
                return 0
            fi
            ;;
        *)
            require_python
            switch_link "$VENV" "$was"
            ;;
    esac
    rollback=$(readlink "$RELEASES/rollback" 2>/dev/null) || rollback=
    if [ -n "$rollback" ] && { [ "$rollback" = "$was" ] || [ ! -e "$rollback" ]; }; then
        rm -f "$RELEASES/rollback"
    fi
    rm -f "$RELEASES/switching" "$VENV.tmp-link"
    say "put $VENV back as it was before an install that was stopped while switching"
}

if [ "$MODE" = rollback ]; then
    # A server with no Python of its own has the current release's (its bundled runtime).
    if [ "$PY_GIVEN" = no ] && [ -f support/runtimes.txt ]; then PY=$VENV/bin/python; fi
    if [ -L "$RELEASES/switching" ]; then # the install that was stopped is what is rolled back
        [ -x "$PY" ] || PY=python3        # needed only to switch a link back (steps replace)
        undo_switch
        exit 0
    fi
    [ -L "$VENV" ] || die 1 "$VENV is not a symlink to a release, so there is nothing to roll back"
    require_python
    previous=$(readlink "$RELEASES/rollback" 2>/dev/null) || die 1 "no earlier release in $RELEASES"
    [ -d "$previous" ] || die 1 "the earlier release $previous is gone"
    current=$(readlink "$VENV")
    switch_link "$VENV" "$previous"
    switch_link "$RELEASES/rollback" "$current"
    say "rolled back $VENV to ${previous##*/} (--rollback again returns to ${current##*/})"
    exit 0
fi

# The scratch copies (a bundled runtime, a base's wheels for --check) go at exit, whatever
# happens before the install.
trap 'rm -rf ${RUNTIME_DIR:+"$RUNTIME_DIR"} ${BASE_DIR:+"$BASE_DIR"}' EXIT
trap interrupted INT
trap 'exit 143' TERM
verify_signature
use_runtime
require_python
if [ "$MODE" = describe ]; then
    "$PY" support/probe.py
    exit $?
fi
say "checking files against SHA256SUMS"
take_base
[ "$SUMS_CHECKED" = yes ] || check_sums
check_no_extra_wheels
select_target
check_venv_dir
if [ -n "$RUNTIME_DIR" ]; then
    say "target $TARGET fits the bundled runtime (Python $PY_VERSION)"
else
    say "target $TARGET fits $PY (Python $PY_VERSION)"
fi
if [ "$MODE" = check ]; then
    if [ -L "$RELEASES/switching" ]; then
        say "note: an install into $VENV was stopped while switching; the next install or --rollback first puts back $(readlink "$RELEASES/switching")"
    fi
    printf 'check passed: %s %s (%s) can be installed into %s; nothing was changed\n' \
        "$NAME" "$VERSION" "$TARGET" "$VENV"
    exit 0
fi

# From here on the disk changes; cleanup undoes everything until the switch is done.
[ ! -L "$RELEASES/switching" ] || undo_switch
NEW=''
cleanup() {
    status=$?
    if [ -n "$NEW" ]; then
        [ ! -L "$RELEASES/switching" ] || undo_switch
        if [ "$(readlink "$VENV" 2>/dev/null || :)" != "$NEW" ]; then # never the one in use
            rm -rf "$NEW" "$NEW.partial" "$NEW.uv" "$VENV.tmp-link" || true
        fi
        rmdir "$RELEASES" 2>/dev/null || true
        say "$VENV was left as it was"
    fi
    [ -z "$RUNTIME_DIR" ] || rm -rf "$RUNTIME_DIR"
    exit "$status"
}
trap cleanup EXIT
trap interrupted INT
trap 'exit 143' TERM

stamp=$(date -u +%Y%m%dT%H%M%SZ)
release=$RELEASES/$NAME-$VERSION-$stamp
n=1
while [ -e "$release" ] || [ -e "$release.partial" ]; do
    n=$((n + 1))
    release=$RELEASES/$NAME-$VERSION-$stamp-$n
done
mkdir -p "$RELEASES" || die 1 "cannot create $RELEASES"
NEW=$release
: >"$release.partial"
say "building $release"
if [ -n "$RUNTIME_DIR" ]; then
    # The release keeps its interpreter inside it: --rollback switches both at once.
    if ! { mkdir "$release" && mv "$RUNTIME_DIR/python" "$release/runtime"; }; then
        die 1 "cannot move the Python runtime into $release (is the disk full?)"
    fi
    PY=$release/runtime/bin/python3
fi
"$PY" -m venv --without-pip "$release" || die 1 "$PY could not create a virtual environment"

UV=
if [ -n "$UV_WHEEL" ] && [ "$USE_UV" = yes ]; then
    mkdir "$release.uv"
    if uv_version=$(steps unpack-uv "wheels/$UV_WHEEL" "$release.uv/uv" 2>&1); then
        UV=$release.uv/uv
    else
        say "note: the bundled uv cannot run here ($uv_version); installing with pip instead"
    fi
fi

count=$(grep -c '^[^#[:space:]]' "$LOCK")
if [ -n "$UV" ]; then
    say "installing $count packages from wheels/ with $uv_version (offline, hash-checked)"
    "$UV" pip install --offline --no-index --no-config --find-links wheels --require-hashes \
        --no-build --compile-bytecode --cache-dir "$release.uv/cache" \
        --python "$release/bin/python" --quiet -r "$LOCK" >&2 ||
        die 1 "uv could not install $LOCK (see its message above); --no-uv installs with pip"
else
    # pip runs from its wheel, in the new venv; the lock installs pip itself too.
    say "installing $count packages from wheels/ with pip (offline, hash-checked)"
    "$release/bin/python" support/steps.py pip "wheels/$PIP_WHEEL" install --no-index --find-links wheels \
        --require-hashes --only-binary :all: --no-cache-dir --no-compile --quiet -r "$LOCK" >&2 || {
        [ $? -ne 130 ] || interrupted
        die 1 "pip could not install $LOCK (see its message above)"
    }
    # Bytecode, compiled here so its paths are this server's (a file that does not compile is
    # skipped, as pip skips it).
    "$release/bin/python" support/steps.py compile >/dev/null 2>&1 || [ $? -ne 130 ] || interrupted
fi
# The same check as "pip check"; uv's takes milliseconds where pip's starts Python and pip.
if [ -n "$UV" ]; then
    checked=$("$UV" pip check --offline --no-config --python "$release/bin/python" 2>&1) || {
        printf '%s\n' "$checked" >&2
        die 1 "the installed packages do not fit together (uv pip check, above)"
    }
else
    "$release/bin/python" support/steps.py pip "wheels/$PIP_WHEEL" check >&2 || {
        [ $? -ne 130 ] || interrupted # an interrupted check is not a passed one, nor a failed one
        die 1 "the installed packages do not fit together (pip check, above)"
    }
fi
"$release/bin/python" support/steps.py pip-without-distutils ||
    die 1 "could not write a .pth file into $release"
rm -rf "$release.uv"
rm -f "$release.partial"

# The switch. A plain venv directory at VENV_DIR is kept as previous-STAMP, for --rollback;
# "switching" names what VENV_DIR was until the switch is done, wherever a kill leaves it.
# rollback is set before the move too, as earlier versions of this script expect after a kill.
before=$(readlink "$VENV" 2>/dev/null) || before=
case $before in '' | /*) ;; *) before=$(dirname -- "$VENV")/$before ;; esac # a relative link
[ ! -d "$VENV" ] || [ -L "$VENV" ] || [ ! -f "$VENV/pyvenv.cfg" ] || before=$RELEASES/previous-$stamp
ln -s "${before:-none}" "$RELEASES/switching"
if [ -n "$before" ]; then switch_link "$RELEASES/rollback" "$before"; else rm -f "$RELEASES/rollback"; fi
if [ -d "$VENV" ] && [ ! -L "$VENV" ]; then
    if [ -n "$before" ]; then mv "$VENV" "$before"; else rmdir "$VENV"; fi # empty, checked above
fi
switch_link "$VENV" "$release"
NEW= # an interrupt from here on keeps the new release; "switching" has the next run undo it
rm -f "$RELEASES/switching"
say "switched $VENV to ${release##*/}"

# Keep the current release and the one before it; delete leftovers of earlier runs.
keep=${release##*/} keep_before=${before##*/}
for entry in "$RELEASES"/*; do
    case ${entry##*/} in "$keep" | "$keep_before" | rollback | kept-* | '*') continue ;; esac
    rm -rf "$entry" || say "warning: could not delete $entry"
done
printf 'installed %s %s (%s) into %s\n' "$NAME" "$VERSION" "$TARGET" "$VENV"
