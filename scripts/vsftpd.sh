#!/usr/bin/env bash
# vsftpd.sh start|stop DIR PORT [tls]
#
# start: runs a throw-away vsftpd on 127.0.0.1:PORT serving DIR/root for
#   anonymous logins with write access (upload, mkdir, rename, delete). The
#   password is generated into DIR/password and is the only one accepted
#   (secure_email_list_enable). It runs as the launching user
#   (run_as_launching_user=YES: works as root or not, no chroot, so the FTP path
#   of DIR/root is its absolute path). Listing and MDTM times are in the zone
#   of $VSFTPD_TZ (default Asia/Seoul, use_localtime=YES). With "tls", a
#   self-signed certificate DIR/cert.pem is made and explicit FTPS (AUTH TLS)
#   is required for logins and data. Waits until the port accepts, writes the
#   PID to DIR/vsftpd.pid (the process is its own session and group leader).
# VSFTPD_REQUIRE_SSL_REUSE=YES sets require_ssl_reuse (default NO here, YES in
#   vsftpd itself). VSFTPD_TZ sets the server zone.
# stop: kills the process group of the PID in DIR/vsftpd.pid (the listener and
#   its session processes) and removes the pid file.
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR PORT [tls]" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1 dir=$2 port=${3:-} mode=${4:-plain}

# alive PID: running and not a zombie (an orphaned vsftpd is reaped by init,
# which may take a while; a zombie holds no port and no connection).
alive() {
  local st
  kill -0 "$1" 2>/dev/null || return 1
  if [ -r "/proc/$1/stat" ]; then
    st=$(sed 's/^[^)]*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
    [ "$st" != Z ] || return 1
  fi
  return 0
}

stop() {
  local pidfile=$dir/vsftpd.pid pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if [ -n "$pid" ] && alive "$pid"; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      alive "$pid" || break
      sleep 0.05
    done
    if alive "$pid"; then
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$pidfile"
}

start() {
  [ -n "$port" ] || usage
  local bin
  bin=$(command -v vsftpd 2>/dev/null || true)
  [ -n "$bin" ] || { [ -x /usr/sbin/vsftpd ] && bin=/usr/sbin/vsftpd; }
  [ -n "$bin" ] || { echo "vsftpd.sh: vsftpd is not installed (run make setup)" >&2; exit 3; }

  mkdir -p "$dir/root"
  dir=$(cd "$dir" && pwd)
  if [ -f "$dir/vsftpd.pid" ] && alive "$(cat "$dir/vsftpd.pid")"; then
    echo "vsftpd.sh: already running in $dir (pid $(cat "$dir/vsftpd.pid"))" >&2
    exit 1
  fi
  if [ ! -s "$dir/password" ]; then
    (umask 077; od -An -N12 -tx1 /dev/urandom | tr -d ' \n' >"$dir/password")
  fi
  # Anonymous passwords are checked against this list.
  (umask 077; { cat "$dir/password"; echo; } >"$dir/email_passwords")

  local conf=$dir/vsftpd.conf
  cat >"$conf" <<CONF
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=$port
background=NO
run_as_launching_user=YES
seccomp_sandbox=NO
isolate=NO
isolate_network=NO
anonymous_enable=YES
local_enable=NO
no_anon_password=NO
secure_email_list_enable=YES
email_password_file=$dir/email_passwords
anon_root=$dir/root
write_enable=YES
anon_upload_enable=YES
anon_mkdir_write_enable=YES
anon_other_write_enable=YES
anon_world_readable_only=NO
anon_umask=022
connect_from_port_20=NO
pasv_enable=YES
pasv_address=127.0.0.1
pasv_min_port=${VSFTPD_PASV_MIN:-40000}
pasv_max_port=${VSFTPD_PASV_MAX:-59999}
use_localtime=YES
dirmessage_enable=NO
hide_ids=YES
ftpd_banner=attnd test vsftpd
max_clients=0
max_per_ip=0
idle_session_timeout=300
data_connection_timeout=60
xferlog_enable=YES
vsftpd_log_file=$dir/vsftpd.log
log_ftp_protocol=YES
CONF
  if [ "$mode" = tls ]; then
    if [ ! -s "$dir/cert.pem" ]; then
      command -v openssl >/dev/null 2>&1 || { echo "vsftpd.sh: openssl is not installed (run make setup)" >&2; exit 3; }
      openssl req -x509 -newkey rsa:2048 -nodes -days 2 -sha256 \
        -keyout "$dir/key.pem" -out "$dir/cert.pem" \
        -subj "/CN=localhost" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2>/dev/null
      chmod 600 "$dir/key.pem"
    fi
    cat >>"$conf" <<CONF
ssl_enable=YES
allow_anon_ssl=YES
force_anon_logins_ssl=YES
force_anon_data_ssl=YES
require_ssl_reuse=${VSFTPD_REQUIRE_SSL_REUSE:-NO}
ssl_tlsv1=YES
ssl_sslv2=NO
ssl_sslv3=NO
ssl_ciphers=HIGH
rsa_cert_file=$dir/cert.pem
rsa_private_key_file=$dir/key.pem
CONF
  fi

  TZ=${VSFTPD_TZ:-Asia/Seoul} setsid "$bin" "$conf" </dev/null >"$dir/vsftpd.out" 2>&1 &
  local pid=$!
  echo "$pid" >"$dir/vsftpd.pid"
  for _ in $(seq 1 100); do
    if ! alive "$pid"; then
      echo "vsftpd.sh: vsftpd exited at start:" >&2
      cat "$dir/vsftpd.out" >&2 || true
      rm -f "$dir/vsftpd.pid"
      exit 1
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$pid"
      return 0
    fi
    sleep 0.1
  done
  echo "vsftpd.sh: port $port did not accept within 10s" >&2
  stop
  exit 1
}

case $cmd in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
