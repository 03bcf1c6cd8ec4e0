"""Sum up a py-spy profile that `bench/suite.py --profile DIR` recorded: the share of the
chat process's samples in each function (inclusive) and in each function's own code, and
the share by layer (the Parley package, Litestar, uvicorn, SQLAlchemy, psycopg, ...).

    uv run python bench/profile.py DIR/b.txt [--top 30]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter

_LINE = re.compile(r":\d+\)")
_PACKAGE = re.compile(r"\((?:[^/()]*/)*?([a-z_]+)/")


def layer(frame: str) -> str:
    found = _PACKAGE.search(frame)
    return found[1] if found else frame.split(" ", 1)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("profile")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument(
        "--share",
        nargs="*",
        default=[],
        metavar="NAME",
        help="also print the inclusive share of the functions whose name starts with NAME",
    )
    args = parser.parse_args()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    layers: Counter[str] = Counter()
    total = 0
    stacks: list[tuple[list[str], int]] = []
    with open(args.profile) as lines:
        for line in lines:
            stack, _, count = line.rstrip().rpartition(" ")
            samples = int(count)
            frames = [_LINE.sub(")", frame) for frame in stack.split(";")]
            stacks.append((frames, samples))
            total += samples
            own[frames[-1]] += samples
            layers[layer(frames[-1])] += samples
            for frame in set(frames):
                inclusive[frame] += samples
    print(f"{total} samples")
    for name in args.share:
        samples = sum(
            count
            for line_stack, count in stacks
            if any(frame.startswith(name) for frame in line_stack)
        )
        print(f"{samples / total:6.1%}  under {name}")
    for title, counter in (("own time by package", layers), ("inclusive", inclusive)):
        print(f"\n{title}")
        for name, samples in counter.most_common(args.top):
            print(f"{samples / total:6.1%}  {name[:140]}")
    print("\nown time")
    for name, samples in own.most_common(args.top):
        print(f"{samples / total:6.1%}  {name[:140]}")


if __name__ == "__main__":
    main()
