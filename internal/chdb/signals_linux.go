package chdb

import (
	"syscall"
	"unsafe"
)

// kernelSigaction is the x86-64/arm64 kernel struct sigaction used by
// rt_sigaction (not glibc's larger one).
type kernelSigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

const maxSignal = 64

func sigaction(sig int, act, old *kernelSigaction) syscall.Errno {
	_, _, errno := syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig),
		uintptr(unsafe.Pointer(act)), uintptr(unsafe.Pointer(old)), 8, 0, 0)
	return errno
}

// withGoSignals runs f (a call into libchdb) and puts back every signal
// handler that f changed. libchdb installs crash handlers for SIGSEGV, SIGBUS,
// SIGILL, SIGFPE, SIGABRT... on start, and chdb_set_signal_handlers_enabled(0)
// resets those to SIG_DFL: either way the Go runtime would lose the handlers
// it needs (nil dereferences turn into panics through SIGSEGV, preemption uses
// SIGURG, os/signal needs SIGINT and SIGTERM).
func withGoSignals(f func()) {
	var saved [maxSignal + 1]kernelSigaction
	var ok [maxSignal + 1]bool
	for sig := 1; sig <= maxSignal; sig++ {
		if sig == int(syscall.SIGKILL) || sig == int(syscall.SIGSTOP) {
			continue
		}
		ok[sig] = sigaction(sig, nil, &saved[sig]) == 0
	}
	defer func() {
		for sig := 1; sig <= maxSignal; sig++ {
			if !ok[sig] {
				continue
			}
			var now kernelSigaction
			if sigaction(sig, nil, &now) == 0 && now == saved[sig] {
				continue
			}
			sigaction(sig, &saved[sig], nil)
		}
	}()
	f()
}
