"""A Python process for scripts/bench-python.sh: BENCH_ITEMS instances of
Item (an int, a str and a 60-byte-times-digits bytes each) kept in a list,
and BENCH_PAIRS unreachable pairs of Nodes (each with a bytes) left for the
collector, which is disabled: about 5.6 million objects and 1 GiB at the
defaults. Prints its truth (what it made, len(gc.get_objects())) as one
line of JSON, then READY, and sleeps until killed."""
import gc, sys, os, json, time
gc.disable()
N = int(os.environ.get('BENCH_ITEMS', '1000000'))
P = int(os.environ.get('BENCH_PAIRS', '400000'))
class Item:
    def __init__(self, i):
        self.i = i + 1000
        self.name = 'item-%d' % i
        self.payload = b'%d' % i * 60
class Node: pass
items = [Item(i) for i in range(N)]
a = b = None
for i in range(P):
    a = Node(); b = Node(); a.other = b; b.other = a; a.blob = b'x%d' % i * 50
del a, b
print(json.dumps({'items': N, 'pairs': P, 'gc_objects': len(gc.get_objects())}))
print('READY'); sys.stdout.flush()
time.sleep(10000)
