"""Reading and writing the user's files safely (the lowest layer: no
posebooth imports): bounded reads of regular files only, atomic writes that
honour the umask."""
