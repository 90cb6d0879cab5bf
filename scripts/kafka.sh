#!/usr/bin/env bash
# kafka.sh start|stop DIR PORT: a single-node Apache Kafka broker in KRaft mode
# on 127.0.0.1:PORT (controller on PORT+1), data and logs under DIR, PID in
# DIR/kafka.pid. Jars come from scripts/setup-kafka.sh (run here if missing).
# start waits until the broker accepts connections; stop kills by that PID.
set -euo pipefail
cmd="${1:?usage: kafka.sh start|stop DIR PORT}"
dir="${2:?usage: kafka.sh start|stop DIR PORT}"
port="${3:-9092}"
here="$(cd "$(dirname "$0")" && pwd)"

stop() {
  [ -f "$dir/kafka.pid" ] || { echo "kafka.sh: no $dir/kafka.pid" >&2; return 0; }
  pid="$(cat "$dir/kafka.pid")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/kafka.pid"
}

case "$cmd" in
stop) stop; exit 0 ;;
start) ;;
*) echo "usage: kafka.sh start|stop DIR PORT" >&2; exit 2 ;;
esac

command -v java >/dev/null || { echo "kafka.sh: java not found (apt-get install -y openjdk-17-jre-headless)" >&2; exit 1; }
libs="$(bash "$here/setup-kafka.sh")"
home="$(dirname "$libs")"
mkdir -p "$dir/data"
dir="$(cd "$dir" && pwd)"
cport=$((port + 1))
cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${cport}
listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${cport}
advertised.listeners=PLAINTEXT://127.0.0.1:${port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=${dir}/data
num.partitions=3
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
PROPS
java_opts=(-Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true "-Dlog4j.configuration=file:$home/log4j.properties" "-Dkafka.logs.dir=$dir")
if [ ! -f "$dir/data/meta.properties" ]; then
  java "${java_opts[@]}" -cp "$libs/*" kafka.tools.StorageTool format \
    -t "$(java -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)" \
    -c "$dir/server.properties" >"$dir/format.log" 2>&1 || { cat "$dir/format.log" >&2; exit 1; }
fi
if [ -f "$dir/kafka.pid" ] && kill -0 "$(cat "$dir/kafka.pid")" 2>/dev/null; then
  echo "kafka.sh: already running (pid $(cat "$dir/kafka.pid"))" >&2
  exit 0
fi
nohup java "${java_opts[@]}" -cp "$libs/*" kafka.Kafka "$dir/server.properties" >"$dir/kafka.out" 2>&1 &
echo $! > "$dir/kafka.pid"
for _ in $(seq 1 600); do
  if ! kill -0 "$(cat "$dir/kafka.pid")" 2>/dev/null; then
    echo "kafka.sh: broker exited; last output:" >&2; tail -30 "$dir/kafka.out" >&2; rm -f "$dir/kafka.pid"; exit 1
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "127.0.0.1:$port"
    exit 0
  fi
  sleep 0.2
done
echo "kafka.sh: broker did not listen on 127.0.0.1:$port within 120 s" >&2
stop
exit 1
