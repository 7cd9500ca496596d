"""``vkgrad.distributed``: several processes training one model, over MPI, after
``torch.distributed``.

Start the processes with ``mpirun`` (one per device), and in each::

    import vkgrad.distributed as dist
    dist.init_process_group("mpi")
    vkgrad.device(dist.local_device())       # this process's GPU, by its local rank
    model = vkgrad.nn.parallel.DistributedDataParallel(make_model())

Collectives (``all_reduce``, ``broadcast``, ``all_gather``, ``reduce_scatter``, ...) work on
tensors of either backend, in place, staged through host memory; ``async_op=True`` returns
a ``Work`` handle. See docs/distributed.md.
"""

from .collectives import (
    ReduceOp,
    Work,
    all_gather,
    all_gather_into_tensor,
    all_gather_object,
    all_reduce,
    barrier,
    broadcast,
    broadcast_object_list,
    reduce,
    reduce_scatter,
    reduce_scatter_tensor,
)
from .process_group import (
    destroy_process_group,
    get_backend,
    get_local_rank,
    get_local_world_size,
    get_rank,
    get_world_size,
    group,
    init_process_group,
    is_available,
    is_initialized,
    is_mpi_available,
    local_device,
)

__all__ = [
    "ReduceOp",
    "Work",
    "all_gather",
    "all_gather_into_tensor",
    "all_gather_object",
    "all_reduce",
    "barrier",
    "broadcast",
    "broadcast_object_list",
    "destroy_process_group",
    "get_backend",
    "get_local_rank",
    "get_local_world_size",
    "get_rank",
    "get_world_size",
    "group",
    "init_process_group",
    "is_available",
    "is_initialized",
    "is_mpi_available",
    "local_device",
    "reduce",
    "reduce_scatter",
    "reduce_scatter_tensor",
]
