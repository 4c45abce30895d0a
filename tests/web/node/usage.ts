// What a frontend writes against the generated types: each line must type-check under --strict.
import type { components, paths } from "./api";

type Json<Op, Status extends keyof Responses<Op>> = Responses<Op>[Status] extends { content: { "application/json": infer Body } } ? Body : never;
type Responses<Op> = Op extends { responses: infer R } ? R : never;

type SignUp = paths["/api/auth/signup"]["post"];
type Enroll = paths["/api/enroll"]["post"];

declare const signedUp: Json<SignUp, 201>;
declare const enrolled: Json<Enroll, 201>;
declare const pending: Json<Enroll, 200>;
declare const refused: Json<Enroll, 409>;
declare const catalog: components["schemas"]["CoursePage"];

const email: string = signedUp.user.email;
const role: "student" | "instructor" | "admin" = signedUp.user.role;
const status: components["schemas"]["Enrollment"]["status"] = enrolled.enrollment.status;
const orderId: string | undefined = pending.order?.id;
const code: "already_enrolled" | "not_found" | "simulated_payments_disabled" | string = refused.error.code;
const titles: string[] = catalog.items.map((course) => course.title);
const total: number = catalog.total;

export const seen = [email, role, status, orderId, code, titles, total];
