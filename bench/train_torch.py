"""PyTorch side of the training benchmark (bench/train.ts runs it).

Reads the windows bench/train.ts wrote, trains the same architecture (nn.LSTM,
one linear head) with the same batch size, Adam and gradient clipping, and
prints per-epoch seconds as JSON. Debian's python3-torch is enough; this is
never a dependency of the package.
"""
import json
import sys
import time

import torch


def main() -> None:
    data_dir, hidden, layers, batch, epochs, threads = sys.argv[1], *map(int, sys.argv[2:7])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    meta = json.load(open(f"{data_dir}/meta.json"))
    n, steps, F, T = meta["windows"], meta["steps"], meta["features"], meta["targets"]
    x = torch.frombuffer(bytearray(open(f"{data_dir}/x.f32", "rb").read()), dtype=torch.float32).reshape(n, steps, F)
    y = torch.frombuffer(bytearray(open(f"{data_dir}/y.f32", "rb").read()), dtype=torch.float32).reshape(n, steps, T)
    # Time-major like the TypeScript trainer's windows.
    x = x.transpose(0, 1).contiguous()
    y = y.transpose(0, 1).contiguous()
    lstm = torch.nn.LSTM(F, hidden, layers)
    head = torch.nn.Linear(hidden, T)
    params = list(lstm.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=3e-3)
    seconds = []
    losses = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        order = torch.randperm(n)
        total = 0.0
        for b in range(0, n, batch):
            idx = order[b : b + batch]
            opt.zero_grad()
            out, _ = lstm(x[:, idx])
            loss = torch.mean((head(out) - y[:, idx]) ** 2)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            total += loss.item() * len(idx)
        seconds.append(time.perf_counter() - t0)
        losses.append(total / n)
    print(json.dumps({"seconds": seconds, "losses": losses, "torch": torch.__version__, "threads": threads}))


if __name__ == "__main__":
    main()
