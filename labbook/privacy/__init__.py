"""Personal information (PIPL): the privacy notice, a person's own data to download, requests to
delete it and their handling by the admins."""
