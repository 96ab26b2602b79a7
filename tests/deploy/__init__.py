"""Deploy tests: compiled templates deployed to moto_server through the AWS CLI."""
