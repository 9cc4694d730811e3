"""Harvest labelled images from Artsy, the Met, the Art Institute of Chicago or a folder.

One module per source (:mod:`~mediumnet.harvest.artsy`, :mod:`~mediumnet.harvest.met`,
:mod:`~mediumnet.harvest.artic`, :mod:`~mediumnet.harvest.folder`), a shared HTTP layer
(:mod:`~mediumnet.harvest.http`), image verification (:mod:`~mediumnet.harvest.verify`), the
resumable store (:mod:`~mediumnet.harvest.store`) and the engine that ties them together and
writes the manifest (:mod:`~mediumnet.harvest.engine`).
"""

SOURCES = ("artsy", "met", "artic", "folder")
