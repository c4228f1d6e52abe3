"""Network shapes shared by the tests that hold the core to a peer emulator
(test_nengo_loihi.py, test_lava.py): ``(n_inputs, population sizes, connections)``, each
connection ``(src, dst)`` with -1 for the input port; feed-forward and recurrent."""

SHAPES = [
    (5, (6,), ((-1, 0),)),
    (8, (7,), ((-1, 0), (0, 0))),
    (6, (6, 4), ((-1, 0), (0, 1), (1, 0), (0, 0))),
    (10, (3, 9, 5), ((-1, 0), (-1, 1), (0, 2), (1, 2), (2, 1), (2, 2))),
]
