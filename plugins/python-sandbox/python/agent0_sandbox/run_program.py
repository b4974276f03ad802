# run_program(code, glb), shared by the process worker and the WebAssembly runner so both report the
# exit code a program would have as a script: 0, sys.exit(n) & 255, or 1 with a traceback that starts
# at the program's own frame.
import sys
import traceback

def run_program(code, glb):
    try:
        exec(compile(code, '<code>', 'exec'), glb)
        return 0
    except SystemExit as e:
        c = e.code
        if c is None:
            return 0
        if isinstance(c, int):
            return c & 255
        sys.stderr.write(str(c) + '\n')
        return 1
    except BaseException:
        et, ev, tb = sys.exc_info()
        traceback.print_exception(et, ev, tb.tb_next if tb is not None else tb)
        return 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:
            pass
