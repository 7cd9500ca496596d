"""The default process group: MPI's world, through mpi4py.

``mpirun`` starts the processes and MPI is the rendezvous, so there is no address, port or
store to configure: ``init_process_group("mpi")`` takes the world that ``mpirun`` made.
mpi4py is imported on first use, so that ``import vkgrad`` never starts MPI.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import time
import traceback
from typing import Any

from ..device import CPU, Device, _rank, _vulkan_devices

_log = logging.getLogger("vkgrad")


class _Group:
    """What an initialized process group holds: its communicator and this process's place."""

    def __init__(self, MPI, comm, exit_comm) -> None:
        self.MPI = MPI
        self.comm = comm
        self.exit_comm = exit_comm  # only the exit check's barrier ever runs on it
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.dups: list = []  # communicators duplicated for DDP instances, freed with the group

    def dup(self):
        """A communicator of its own over the group (for a DDP instance), freed by
        ``destroy_process_group``: freeing is collective, so it happens where every rank
        calls it, not whenever each rank's garbage collector drops the instance."""
        comm = self.comm.Dup()
        self.dups.append(comm)
        return comm


GROUP: _Group | None = None
_prev_excepthook = None
_exit_check_registered = False
_sys_exit = sys.exit  # the one _recording_exit stands in for while a group is initialized
_exit_failed = False  # this process called sys.exit with a failure status
EXIT_TIMEOUT_ENV = "VKGRAD_DISTRIBUTED_EXIT_TIMEOUT"


class _World:
    """``group.WORLD``: the only group vkgrad has (``group=None`` means it too)."""

    def __repr__(self) -> str:
        return "<vkgrad.distributed.group.WORLD>"


class group:
    """Process groups, as ``torch.distributed.group``: only ``group.WORLD`` exists."""

    WORLD = _World()


def _mpi(where: str):
    try:
        from mpi4py import MPI  # noqa: PLC0415  (optional: imported only when asked for)
    except ImportError as e:
        raise RuntimeError(
            f"{where}: the mpi backend needs mpi4py and an MPI library ({e}); install them with "
            'apt-get install openmpi-bin libopenmpi-dev and pip install "vkgrad[distributed]"'
        ) from e
    return MPI


def is_available() -> bool:
    """Whether the mpi backend can start here (mpi4py imports)."""
    try:
        import mpi4py  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


def is_mpi_available() -> bool:
    return is_available()


def is_initialized() -> bool:
    return GROUP is not None


def init_process_group(
    backend: str | None = "mpi",
    init_method: str | None = None,
    timeout: Any = None,
    world_size: int = -1,
    rank: int = -1,
    store: Any = None,
    group_name: str = "",
    pg_options: Any = None,
    device_id: Any = None,
) -> None:
    """Join the MPI job this process was started in (``mpirun -np N python train.py``).

    ``backend`` must be ``"mpi"`` (None means it too). ``world_size`` and ``rank``, when
    given, must agree with what ``mpirun`` assigned. ``timeout`` is accepted and ignored:
    MPI collectives have no timeout; a rank that raises aborts the whole job instead (see
    below). Once initialized, an uncaught exception on any rank prints that rank's traceback
    and calls ``MPI_Abort``, so the job exits non-zero instead of hanging in the collective
    the other ranks are waiting in; ``sys.exit`` with a failure status aborts the job too
    if the other ranks do not exit within VKGRAD_DISTRIBUTED_EXIT_TIMEOUT seconds (60).

    >>> import vkgrad.distributed as dist
    >>> dist.init_process_group("mpi")                      # doctest: +SKIP
    >>> dist.get_rank(), dist.get_world_size()              # doctest: +SKIP
    (0, 2)
    """
    global GROUP
    name = "init_process_group"
    if GROUP is not None:
        raise RuntimeError(
            f"{name}: the default process group is already initialized; call "
            "destroy_process_group() first"
        )
    if backend is not None and str(backend).lower() != "mpi":
        raise ValueError(
            f"{name}: backend {backend!r} is not available in vkgrad; the only backend is 'mpi' "
            "(mpi4py over an MPI library, with processes started by mpirun)"
        )
    if init_method not in (None, "env://") or store is not None:
        raise ValueError(
            f"{name}: init_method and store are not used with the mpi backend (mpirun is the "
            f"rendezvous), got init_method={init_method!r}"
        )
    MPI = _mpi(name)
    world = MPI.COMM_WORLD
    for what, given, actual in (
        ("world_size", world_size, world.Get_size()),
        ("rank", rank, world.Get_rank()),
    ):
        if given not in (-1, None) and int(given) != actual:
            raise ValueError(
                f"{name}: {what}={given} was given, but mpirun made this process {what} "
                f"{actual}; leave it out with the mpi backend"
            )
    # A communicator of our own: collectives here never match a user's own calls on
    # COMM_WORLD by accident.
    GROUP = _Group(MPI, world.Dup(), world.Dup())
    if GROUP.size > 1:
        _install_excepthook()
        global _exit_check_registered
        if not _exit_check_registered:
            # Registered after mpi4py's own finalizer, so it runs before it (atexit is LIFO).
            atexit.register(_exit_check)
            _exit_check_registered = True


def destroy_process_group(group: Any = None) -> None:
    """Leave the process group (MPI itself is finalized when the process exits)."""
    global GROUP
    _check_group("destroy_process_group", group)
    if GROUP is None:
        raise RuntimeError("destroy_process_group: the default process group is not initialized")
    g, GROUP = GROUP, None
    _remove_excepthook()
    for comm in g.dups:
        comm.Free()
    g.comm.Free()
    g.exit_comm.Free()


def _check_group(where: str, group: Any) -> None:
    if group is not None and not isinstance(group, _World):
        raise NotImplementedError(
            f"{where}: only the default group (group=None or group.WORLD) exists in vkgrad"
        )


def current(where: str, group: Any = None) -> _Group:
    """The initialized group, or an error naming ``where``."""
    _check_group(where, group)
    if GROUP is None:
        raise RuntimeError(
            f"{where}: the default process group is not initialized; call "
            "vkgrad.distributed.init_process_group('mpi') first (in a process started by mpirun)"
        )
    return GROUP


def get_rank(group: Any = None) -> int:
    return current("get_rank", group).rank


def get_world_size(group: Any = None) -> int:
    return current("get_world_size", group).size


def get_backend(group: Any = None) -> str:
    current("get_backend", group)
    return "mpi"


# ---------------------------------------------------------------- one machine, several devices


def get_local_rank() -> int:
    """This process's rank among the processes of its machine.

    From Open MPI's ``OMPI_COMM_WORLD_LOCAL_RANK`` (MPICH/Slurm: ``MPI_LOCALRANKID``,
    ``SLURM_LOCALID``; torchrun: ``LOCAL_RANK``); in an initialized group without those,
    from MPI itself (the ranks that share memory with this one).
    """
    for var in ("OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID", "LOCAL_RANK"):
        v = os.environ.get(var)
        if v is not None and v.strip().isdigit():
            return int(v)
    if GROUP is not None:
        node = GROUP.comm.Split_type(GROUP.MPI.COMM_TYPE_SHARED)
        try:
            return node.Get_rank()
        finally:
            node.Free()
    return 0


def get_local_world_size() -> int:
    """How many processes of the job run on this machine (``OMPI_COMM_WORLD_LOCAL_SIZE``)."""
    for var in ("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "LOCAL_WORLD_SIZE"):
        v = os.environ.get(var)
        if v is not None and v.strip().isdigit():
            return int(v)
    if GROUP is not None:
        node = GROUP.comm.Split_type(GROUP.MPI.COMM_TYPE_SHARED)
        try:
            return node.Get_size()
        finally:
            node.Free()
    return 1


def local_device(kind: str = "gpu") -> Device:
    """The device this process should use: one process per Vulkan device of its machine.

    The local rank picks the device: local rank r gets the r-th device of ``kind``, best
    first as ``vkgrad.devices()`` lists them, after ``VKGRAD_VISIBLE_DEVICES`` has chosen
    and renumbered what vkgrad sees. ``kind="gpu"`` counts Vulkan GPUs and gives the cpu
    where there is none; ``kind="vulkan"`` counts every Vulkan device, CPU implementations
    such as lavapipe included, and raises where there is none. With more local ranks than
    devices, ranks share devices (round robin), and a warning says so once.

    >>> vkgrad.device(vkgrad.distributed.local_device())     # doctest: +SKIP
    """
    if kind not in ("gpu", "vulkan"):
        raise ValueError(f"local_device: kind must be 'gpu' or 'vulkan', got {kind!r}")
    local, per_node = get_local_rank(), get_local_world_size()
    _open_first(local)
    found = sorted(_vulkan_devices(), key=_rank)
    if kind == "gpu":
        found = [d for d in found if d["device_type"] != "cpu"]
        if not found:
            return CPU
    elif not found:
        raise RuntimeError("local_device: no Vulkan device was found")
    if per_node > len(found):
        _warn_shared(per_node, len(found), kind)
    return Device("vulkan", found[local % len(found)]["index"])


def _open_first(local: int) -> None:
    """Open the device this local rank will most likely get before listing the devices.

    Listing needs an open device, and would otherwise open the first one: every process of
    the machine would then hold memory on GPU 0 (as every CUDA process once did). The guess
    is the local rank's device in the loader's order (after VKGRAD_VISIBLE_DEVICES); where
    the listing then picks another (GPUs ranked before a CPU device), the guess stays open.
    """
    try:
        # The Vulkan backend loads on first use (kp is optional), as in vkgrad.device.
        from ..backends import vulkan  # noqa: PLC0415

        if vulkan._MANAGERS:
            return  # a device is open already: the listing goes through it
        get_manager, visible = vulkan.get_manager, vulkan.visible_devices()
        if visible:
            get_manager(local % len(visible))
        elif visible is None:
            get_manager(local)
    except Exception:  # noqa: BLE001  (no such device, no kp: the listing says what there is)
        pass


_warned_shared = False


def _warn_shared(ranks: int, devices: int, kind: str) -> None:
    global _warned_shared
    if not _warned_shared:
        _warned_shared = True
        _log.warning(
            "vkgrad.distributed: %d processes on this machine share %d %s device(s)",
            ranks,
            devices,
            "Vulkan GPU" if kind == "gpu" else "Vulkan",
        )


# ---------------------------------------------------------------- a failing rank ends the job


def _abort_on_uncaught(exc_type, exc, tb) -> None:
    g = GROUP
    if g is None or issubclass(exc_type, KeyboardInterrupt):
        (_prev_excepthook or sys.__excepthook__)(exc_type, exc, tb)
        return
    # The other ranks may be blocked in a collective this rank will never join: without an
    # abort, mpi4py's MPI_Finalize at exit would wait for them, and they for it, for ever.
    lines = traceback.format_exception(exc_type, exc, tb)
    sys.stderr.write(
        f"vkgrad.distributed: rank {g.rank} of {g.size} raised an uncaught exception; "
        "aborting the MPI job\n" + "".join(lines)
    )
    try:
        sys.stdout.flush()
    finally:
        sys.stderr.flush()
        g.MPI.COMM_WORLD.Abort(1)


def _install_excepthook() -> None:
    global _prev_excepthook
    if sys.excepthook is not _abort_on_uncaught:
        _prev_excepthook = sys.excepthook
        sys.excepthook = _abort_on_uncaught
    sys.exit = _recording_exit


def _remove_excepthook() -> None:
    global _prev_excepthook
    if sys.excepthook is _abort_on_uncaught:
        sys.excepthook = _prev_excepthook or sys.__excepthook__
    _prev_excepthook = None
    if sys.exit is _recording_exit:
        sys.exit = _sys_exit


def _recording_exit(status: Any = None) -> None:
    """``sys.exit`` while the group is initialized: notes a failure status for the check at
    exit (Python keeps the status from atexit handlers), then exits as sys.exit does."""
    global _exit_failed
    _exit_failed = status is not None and status != 0
    _sys_exit(status)


def _exit_check() -> None:
    """At interpreter exit after ``sys.exit`` with a failure status: wait (at most
    VKGRAD_DISTRIBUTED_EXIT_TIMEOUT seconds, 60 by default; 0 waits for ever) until every
    rank is exiting too, else abort the job.

    MPI_Finalize, which mpi4py calls at exit, waits for every rank. A rank that gives up
    early (``sys.exit(1)``, which no excepthook sees) while the others wait in a collective
    would make both wait for ever; this turns that into an abort naming the rank. A rank
    that exits successfully waits for the others as MPI does, however long they take (rank
    0 writing a checkpoint while the others are done).
    """
    g = GROUP
    if g is None or not _exit_failed:
        return
    try:
        limit = float(os.environ.get(EXIT_TIMEOUT_ENV, "60"))
    except ValueError:
        limit = 60.0
    request = g.exit_comm.Ibarrier()
    start = time.monotonic()
    pause = 1e-4
    while not request.Test():
        if limit > 0 and time.monotonic() - start > limit:
            sys.stderr.write(
                f"vkgrad.distributed: rank {g.rank} of {g.size} is exiting, but other ranks "
                f"have not reached their exit after {limit:g} s (waiting in a collective this "
                f"rank left?); aborting the MPI job ({EXIT_TIMEOUT_ENV} sets the wait)\n"
            )
            sys.stderr.flush()
            g.MPI.COMM_WORLD.Abort(1)
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
