"""What both fleet tests end with: what a fleet left behind, and the verdict."""
import os


def processes_in(directory):
    """Pids whose working directory is `directory` or below it (every process of a fleet runs in
    its fleet directory, the demo servers' workers too)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cwd = os.readlink("/proc/%s/cwd" % pid)
        except OSError:
            continue
        if cwd == directory or cwd.startswith(directory + "/"):
            found.append(int(pid))
    return found


def left_behind(directory, segments):
    """Problems: processes still running in `directory`, segments (names under /dev/shm/wsm.) still there."""
    problems = []
    running = processes_in(directory)
    if running:
        problems.append("processes left running in %s: %s" % (directory, running))
    left = [s for s in segments if os.path.exists("/dev/shm/wsm." + s)]
    if left:
        problems.append("segments left behind: %s" % left)
    return problems


def verdict(problems, what):
    """Prints each problem and a count; the exit code."""
    for p in problems:
        print("PROBLEM: " + p)
    print("%s: %d problems" % (what, len(problems)))
    return 1 if problems else 0
