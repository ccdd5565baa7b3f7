"""Training on CPU with transparent huge pages for the tensors glibc's malloc hands out.

Every training step allocates fresh tensors of megabytes (a [batch x steps, vocabulary] log-softmax, a recurrent
matrix's gradient summed over steps), which glibc serves from newly mapped memory; the kernel then faults it in 4 KB at
a time, and on the virtual machines this project trains on a fault costs about 10 us, so faulting took more than half
of each step. With ``glibc.malloc.hugetlb=1`` (glibc 2.35 and later) malloc asks for transparent huge pages, which the
kernel gives where it is set to ``madvise`` (the usual default) or ``always``: a fault per 2 MB instead of per 4 KB.
The arithmetic is unchanged. The tunable is read when the process starts, so the script starts itself again with it.
"""
import os
import sys

TUNABLE = "glibc.malloc.hugetlb=1"
OPT_OUT = "DIRNET_NO_HUGE_PAGES"


def restart_with_huge_pages():
    """On Linux, unless ``GLIBC_TUNABLES`` already sets ``glibc.malloc.hugetlb`` or ``DIRNET_NO_HUGE_PAGES`` is set,
    replaces this process by the same command with the tunable added (and returns only where it does nothing)."""
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if not sys.platform.startswith("linux") or "glibc.malloc.hugetlb" in tunables or os.environ.get(OPT_OUT):
        return
    environment = dict(os.environ, GLIBC_TUNABLES=f"{tunables}:{TUNABLE}" if tunables else TUNABLE)
    sys.stdout.flush()
    sys.stderr.flush()
    # sys.orig_argv (Python 3.10+) is the whole command, interpreter options and -c/-m included.
    os.execve(sys.executable, getattr(sys, "orig_argv", [sys.executable] + sys.argv), environment)
