"""Instruction mix of the K loop of the last compute shader in a lavapipe JIT dump.

    GALLIVM_DEBUG=asm MESA_SHADER_CACHE_DISABLE=true node dist/scripts/bench-matmul-tiles.js \
        '{"x":{"v":{...}}}' 64x64x64 1 > dump.txt 2>&1
    python3 scripts/matmul-loop-mix.py dump.txt

Takes the last `cs_co_variant` (the matmul kernel: it is compiled after the packing kernel),
finds its outermost backward jump (the K loop) and counts the instructions in it by kind. Also
prints the size of each texel-read (`image`) function, which the loop calls.
"""
import re
import sys
from collections import Counter

lines = open(sys.argv[1]).read().split('\n')
blocks = []  # (label, [(address, op, args)])
i = 0
while i < len(lines):
    if re.match(r'^[a-z_]+:$', lines[i]):
        name, body, j = lines[i][:-1], [], i + 1
        while j < len(lines):
            m = re.match(r'\s*([0-9a-f]+):\s+(\S+)\s*(.*)', lines[j])
            if not m:
                break
            body.append((int(m.group(1), 16), m.group(2), m.group(3)))
            j += 1
        blocks.append((name, body))
        i = j
    else:
        i += 1
print('image functions (instructions):', [len(b) for n, b in blocks if n == 'image'])
ins = [b for n, b in blocks if n == 'cs_co_variant'][-1]
back = [x for x in ins if x[1] == 'jmp' and x[2].lstrip('-').isdigit() and int(x[2]) < 0]
end, _, offset = min(back, key=lambda x: int(x[2]))  # the longest backward jump
start = [x[0] for x in ins if x[0] > end][0] + int(offset)
loop = [x for x in ins if start <= x[0] <= end]
kinds = Counter()
for _, op, args in loop:
    if op in ('vmulps', 'vaddps', 'vfmadd231ps'):
        kinds['FP multiply/add'] += 1
    elif op.startswith('call'):
        kinds['call (texel read)'] += 1
    elif '(%rsp)' in args:
        kinds['stack load/store'] += 1
    elif op in ('vblendvps', 'vpblendd', 'vmovdqa32'):
        kinds['lane-mask blends'] += 1
    elif op.startswith(('j', 'cmp', 'test', 'kortest')):
        kinds['compare/branch'] += 1
    elif '(%' in args:
        kinds['other memory'] += 1
    else:
        kinds['other'] += 1
print('K loop:', len(loop), 'instructions;', dict(kinds.most_common()))
