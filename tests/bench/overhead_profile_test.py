#!/usr/bin/python3
"""bench/overhead.py's reading of callgrind output (callgrind_profile): a real callgrind run of
allocation_probe at two pair counts must show exactly 2 calls to malloc and free per extra pair,
instructions inside the allocator for them, and all instructions above those; the instructions in
all and in the allocator must be the sums callgrind_annotate makes of the same files. Exits 77
(skipped) without valgrind.

  overhead_profile_test.py BENCH_DIR PROBE WORK_DIR
"""
import re
import shutil
import subprocess
import sys
from pathlib import Path

bench_dir, probe, work = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
sys.path.insert(0, str(bench_dir))
import overhead  # noqa: E402

if shutil.which("valgrind") is None:
    print("valgrind is not installed (scripts/setup installs it)")
    sys.exit(77)
work.mkdir(parents=True, exist_ok=True)
profiles = {}
for pairs in (1000, 3000):
    prefix = work / f"probe-{pairs}"
    for old in work.glob(f"probe-{pairs}.*"):
        old.unlink()
    subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={prefix}.%p", probe, str(pairs)],
                   check=True, capture_output=True, timeout=120)
    profiles[pairs] = overhead.callgrind_profile(str(prefix))
    print(pairs, profiles[pairs])


def annotated(prefix):
    """The same sums from callgrind_annotate (valgrind's own reader), over every output file of the
    run: its program total, and the exclusive instructions of the functions
    overhead.ALLOCATOR_FUNCTIONS names."""
    total = allocator = 0
    for f in Path(prefix).parent.glob(Path(prefix).name + ".*"):
        out = subprocess.run(["callgrind_annotate", "--threshold=100", str(f)], check=True, capture_output=True,
                             text=True).stdout
        for line in out.splitlines():
            if line.rstrip().endswith("PROGRAM TOTALS"):
                total += int(line.split()[0].replace(",", ""))
            m = re.match(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*?)(?: \[[^\]]*\])?$", line)
            if m and overhead.ALLOCATOR_FUNCTIONS.search(m.group(2).rsplit(":", 1)[-1]):
                allocator += int(m.group(1).replace(",", ""))
    return {"instructions": total, "allocator": allocator}


extra = {k: profiles[3000][k] - profiles[1000][k] for k in profiles[1000]}
failures = []
for pairs in (1000, 3000):
    reference = annotated(work / f"probe-{pairs}")
    for key in ("instructions", "allocator"):
        if profiles[pairs][key] != reference[key] or reference[key] == 0:
            failures.append(f"{pairs} pairs: {key} {profiles[pairs][key]}, callgrind_annotate says {reference[key]}")
if extra["allocation_calls"] != 2 * 2000:
    failures.append(f"2,000 more pairs made {extra['allocation_calls']} more calls to malloc and free, not 4,000")
if not 2000 * 10 <= extra["allocator"] <= 2000 * 1000:
    failures.append(f"{extra['allocator']} more instructions inside the allocator for 2,000 pairs")
if not extra["instructions"] > extra["allocator"] > 0:
    failures.append(f"all instructions ({extra['instructions']}) must exceed the allocator's ({extra['allocator']})")
for f in failures:
    print("FAIL:", f)
sys.exit(1 if failures else 0)
