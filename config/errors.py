"""The error a user's configuration mistake raises."""


class ConfigError(Exception):
    """A mistake in a configuration file or setting, explained for the user.

    The message names the file, the key and what to do about it; the CLI
    prints it on one line without a traceback.
    """

    def __init__(self, file, key: str, problem: str, fix: str = ""):
        self.file = str(file)
        self.key = key
        self.problem = problem
        self.fix = fix
        text = f"{self.file}: {key}: {problem}"
        if fix:
            text += f" — {fix}"
        super().__init__(text)
