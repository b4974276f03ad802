"""Process group of the service: rank 0 serves HTTP and broadcasts each request on a gloo control
group; every rank runs it on its rows; results are gathered back to rank 0."""
import os

import torch
import torch.distributed as dist


class Comm:
    def __init__(self, device_kind):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", str(self.rank)))
        if device_kind == "cuda":
            torch.cuda.set_device(self.local_rank)
            self.device = torch.device("cuda", self.local_rank)
        else:
            self.device = torch.device("cpu")
        self.ctl = None
        if self.world > 1 or device_kind == "cuda":
            if not dist.is_initialized():
                if "MASTER_ADDR" not in os.environ:
                    # one process without a launcher: a private single-rank group (FSDP2 needs one)
                    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
                    os.environ.setdefault("MASTER_PORT", str(_free_port()))
                backend = "nccl" if device_kind == "cuda" else "gloo"
                dist.init_process_group(backend=backend, rank=self.rank, world_size=self.world)
            self.ctl = dist.new_group(backend="gloo") if dist.get_backend() != "gloo" else dist.group.WORLD

    @property
    def distributed(self):
        return dist.is_initialized()

    def broadcast(self, obj):
        if self.world == 1:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0, group=self.ctl)
        return box[0]

    def gather(self, obj):
        """[obj of rank 0, rank 1, ...] on rank 0; None elsewhere."""
        if self.world == 1:
            return [obj]
        out = [None] * self.world if self.rank == 0 else None
        dist.gather_object(obj, out, dst=0, group=self.ctl)
        return out

    def all_reduce_sum(self, tensors):
        """Sums same-shaped tensors across ranks in place, a few flat buckets per dtype."""
        if self.world == 1 or not tensors:
            return
        by_dtype = {}
        for t in tensors:
            by_dtype.setdefault(t.dtype, []).append(t)
        for group in by_dtype.values():
            flat = torch.cat([t.reshape(-1) for t in group])
            dist.all_reduce(flat)
            at = 0
            for t in group:
                n = t.numel()
                t.copy_(flat[at:at + n].view_as(t))
                at += n

    def barrier(self):
        if self.world > 1:
            dist.barrier(group=self.ctl)

    def close(self):
        if dist.is_initialized():
            dist.destroy_process_group()


def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
