"""Running many messages: the batch runner, its worker pool and the Dask runner."""
