"""Every edit of a scene, without Qt: the document core with undo
(edits.document), pose ops, key ops and joint rotation."""
