"""A job in which one rank fails while the others wait in a collective.

Run by tests/test_distributed.py as ``mpirun -np N python tests/dist_worker_error.py MODE``:

- ``raise``: the last rank raises ValueError; the excepthook of vkgrad.distributed prints
  its traceback and aborts the job.
- ``exit``: rank 0 calls ``sys.exit(3)``, which no excepthook sees; at exit it waits
  VKGRAD_DISTRIBUTED_EXIT_TIMEOUT seconds for the other ranks, then aborts the job.

Without either, the other ranks would wait in all_reduce for ever.

- ``late``: no failure. Rank 0 is done at once and exits successfully, the others finish
  their work seconds later: the job must end normally, nobody aborted.
"""

from __future__ import annotations

import sys
import time

import vkgrad
import vkgrad.distributed as dist

dist.init_process_group("mpi")
rank, n = dist.get_rank(), dist.get_world_size()
print(f"started {rank}", flush=True)
if sys.argv[1] == "raise" and rank == n - 1:
    raise ValueError(f"rank {rank} fails on purpose")
if sys.argv[1] == "exit" and rank == 0:
    sys.exit(3)
if sys.argv[1] == "late":
    if rank > 0:
        time.sleep(4)
    print(f"finished {rank}", flush=True)
    sys.exit(0)
dist.all_reduce(vkgrad.ones(3))
print(f"unreachable {rank}", flush=True)
