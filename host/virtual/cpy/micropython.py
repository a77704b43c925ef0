# CPython stand-in for MicroPython's `micropython` module (runtime="cpython" only).


def const(x):
    return x


def kbd_intr(ch):
    pass


def heap_lock():
    return 0


def heap_unlock():
    return 0


def schedule(func, arg):
    func(arg)


def mem_info(*args):
    pass
