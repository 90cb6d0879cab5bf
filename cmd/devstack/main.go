// Command devstack runs the embedded engines on 127.0.0.1: a kfake Kafka
// broker, the ClickHouse engine (libchdb) behind ClickHouse's HTTP interface
// and the Daou Office simulator, and writes DIR/stack.json.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "devstack: not built yet")
	os.Exit(2)
}
