"""The one frame pipeline (Qt-free): posed people -> render meshes -> passes ->
annotations -> control images -> generation request. See frame.render."""
