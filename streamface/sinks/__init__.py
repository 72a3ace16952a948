"""Where frames go: files (MP4), virtual cameras."""
