"""The outside services, each behind a small interface of ours: file storage, mail, Razorpay and
the PDF renderer. ``lms.runtime.Runtime`` opens each once per process, from the settings, and
hands them to whatever needs them; their failures are ``lms.errors.OutsideServiceError``s."""
