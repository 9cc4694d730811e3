"""Serving: what a served model may read and fetch, capped downloads, requests, batch scoring.

:mod:`~mediumnet.serving.guard` (the policy), :mod:`~mediumnet.serving.downloads` (the one
capped download), :mod:`~mediumnet.serving.requests` (request rows to images) and
:mod:`~mediumnet.serving.score` (a folder or table of images into one Parquet table).
"""
