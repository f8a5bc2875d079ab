"""The media library's infrastructure: files kept by content hash, inspected with Pillow and
ffprobe, and served to platforms that fetch them at signed, expiring URLs."""
