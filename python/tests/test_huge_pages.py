"""The fine-tuning recipes restart themselves with glibc's huge-page tunable, once, keeping their arguments."""
import os
import subprocess
import sys
import unittest

PYTHON = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SCRIPT = ("import os, sys; sys.path.insert(0, sys.argv[1]); import dirnet_torch; "
          "print('start', flush=True); dirnet_torch.restart_with_huge_pages(); "
          "print(os.environ.get('GLIBC_TUNABLES', ''), sys.argv[2:])")


def run(**environment):
    env = {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES", "DIRNET_NO_HUGE_PAGES")}
    env.update(environment)
    done = subprocess.run([sys.executable, "-c", SCRIPT, PYTHON, "--epochs", "5"], env=env, capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


@unittest.skipUnless(sys.platform.startswith("linux"), "glibc tunables exist on Linux only")
class HugePagesTests(unittest.TestCase):
    def test_restarts_once_with_the_tunable_and_the_same_arguments(self):
        self.assertEqual(run(), ["start", "start", "glibc.malloc.hugetlb=1 ['--epochs', '5']"])

    def test_keeps_other_tunables(self):
        self.assertEqual(run(GLIBC_TUNABLES="glibc.malloc.arena_max=2")[-1],
                         "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1 ['--epochs', '5']")

    def test_does_nothing_when_set_or_opted_out(self):
        self.assertEqual(run(GLIBC_TUNABLES="glibc.malloc.hugetlb=0"), ["start", "glibc.malloc.hugetlb=0 ['--epochs', '5']"])
        self.assertEqual(run(DIRNET_NO_HUGE_PAGES="1"), ["start", " ['--epochs', '5']"])


if __name__ == "__main__":
    unittest.main()
