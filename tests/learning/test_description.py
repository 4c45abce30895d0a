"""The OpenAPI description carries what the course work added: shapes, errors, strict bodies."""
from openapi_spec_validator import validate


def test_the_description_is_valid_and_names_the_new_shapes(client):
    spec = client.get("/api/openapi.json").json
    validate(spec)
    schemas = spec["components"]["schemas"]
    assert {"CourseFacets", "Instructor", "NextLesson", "RosterRow", "CourseAnalytics", "SubmissionRow",
            "AuditRow", "PersonRef"} <= set(schemas)
    card = schemas["Course"]["properties"]
    assert {"level", "category", "language", "instructors", "thumbnailUrl", "totalDurationMin"} <= set(card)
    assert "outcomes" in schemas["CourseDetail"]["properties"]
    assert {"nextLesson", "lastLessonId", "lastActivityAt"} <= set(schemas["Progress"]["properties"])
    assert schemas["RosterRowPage"]["properties"]["items"]["items"] == {"$ref": "#/components/schemas/RosterRow"}


def test_edits_declare_their_conflicts_and_refuse_unknown_fields_at_every_depth(client):
    paths = client.get("/api/openapi.json").json["paths"]
    put, patch = paths["/api/admin/courses/{id}"]["put"], paths["/api/admin/courses/{id}"]["patch"]
    for operation in (put, patch):
        codes = operation["responses"]["412"]["content"]["application/json"]["schema"]["allOf"][1]
        assert codes["properties"]["error"]["properties"]["code"]["enum"] == ["precondition_failed"]
        assert "not_course_instructor" in str(operation["responses"]["403"])
    assert "lessons_have_progress" in str(put["responses"]["409"]) and "If-Match" in put["summary"]
    body = put["requestBody"]["content"]["application/json"]["schema"]
    lesson = body["properties"]["modules"]["items"]["properties"]["lessons"]["items"]
    assert body["additionalProperties"] is False and lesson["additionalProperties"] is False
    assert "confirmRemoval" in body["properties"] and "modules" not in \
        patch["requestBody"]["content"]["application/json"]["schema"]["properties"]
    created = paths["/api/admin/courses"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "additionalProperties" not in created  # POST bodies ignore unknown fields


def test_a_review_documents_its_names_and_the_deprecated_aliases(client):
    paths = client.get("/api/openapi.json").json["paths"]
    body = paths["/api/admin/verify-submission"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    fields = body["properties"]
    assert fields["status"]["enum"] == ["approved", "rejected"] and "deprecated" not in fields["status"]
    assert fields["decision"]["deprecated"] is True and fields["comments"]["deprecated"] is True
    roster = paths["/api/admin/courses/{id}/students"]["get"]["responses"]["200"]["content"]
    assert set(roster) == {"application/json", "text/csv"}
    assert "303" in paths["/api/courses/{id}/thumbnail"]["get"]["responses"]
    assert "multipart/form-data" in paths["/api/admin/courses/{id}/thumbnail"]["put"]["requestBody"]["content"]
